/**
 * JSON lines from a file, a pipe or stdin, one parsed value per line with its line
 * number. A bad line is reported with its number and reading goes on: one bad line never
 * costs the good ones around it. Lines are split from the raw bytes, so memory stays
 * bounded whatever arrives: a line longer than the cap is counted and skipped without
 * being held, and bytes that are not UTF-8 are reported, not turned into U+FFFD.
 * Blank lines are skipped; a byte-order mark and CRLF line ends are accepted.
 */
import { closeSync, createReadStream, fstat, open as fsOpen } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { UsageError, errorMessage } from '../errors.js';
import { formatCount } from '../cli/format.js';
import { duplicateKeyOrDepth } from './json-shape.js';

export type JsonLine = { line: number; ok: true; value: unknown } | { line: number; ok: false; error: string };

/** Longest line accepted, in bytes; a longer one is reported instead of held in memory. */
export const maxLineBytes = 2_000_000;

const readErrors: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'no such file',
  ENOTDIR: 'a folder on the path is not a folder',
  EISDIR: 'it is a folder',
  ELOOP: 'too many symbolic links',
};

function readProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && readErrors[code] ? readErrors[code] : errorMessage(err);
}

/**
 * Opens `source` (a path, or '-' for `stdin`): any readable file, including a FIFO,
 * `/dev/stdin` or a shell's `<(…)`. Fails with a UsageError naming `flag` when it
 * cannot be read, before anything is done.
 */
export async function openJsonLines(source: string, stdin: Readable, flag: string): Promise<{ input: Readable; bytes: number | null }> {
  // The process's own stdin by name: opening it again fails when it is a socket (as a
  // child process's stdin often is), and reading the stream is the same thing.
  if (source === '-' || /^\/(dev\/stdin|dev\/fd\/0|proc\/self\/fd\/0)$/.test(source)) return { input: stdin, bytes: null };
  // An empty value (an unset variable in `--jsonl "$FILE"`) names no file.
  if (source.trim() === '') throw new UsageError(`${flag} was given an empty value: give a file to read, or - for stdin`);
  let fd: number;
  try {
    fd = await openFile(source, 'r');
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${source}: ${readProblem(err)}`, { cause: err });
  }
  try {
    const info = await fstatOf(fd);
    if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    // A pipe read through the thread pool blocks a thread while its writer is idle, and
    // neither a stop signal nor process.exit gets past that read. As a socket it is read
    // when the event loop sees data (epoll), so a signal stops it at once.
    if (info.isFIFO() || info.isSocket()) return { input: new Socket({ fd, readable: true, writable: false }), bytes: null };
    return { input: createReadStream('', { fd }), bytes: info.isFile() ? info.size : null };
  } catch (err) {
    closeSync(fd);
    throw new UsageError(`cannot read ${flag} ${source}: ${readProblem(err)}`, { cause: err });
  }
}

const openFile = promisify(fsOpen);
const fstatOf = promisify(fstat);

export interface ReadOptions {
  /** Stop reading when aborted: the lines read so far are still yielded. */
  signal?: AbortSignal;
  /** Said after "longer than N bytes" (e.g. how many ids fit a line). */
  tooLongHint?: string;
  /** The input's name for a read error, e.g. "--jsonl requests.jsonl". */
  name?: string;
}

const newline = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Lines until the input ends, or until `signal` is aborted (then the lines read so far). */
export async function* readJsonLines(input: Readable, options: ReadOptions = {}): AsyncGenerator<JsonLine> {
  const { signal } = options;
  if (signal?.aborted) return;
  let line = 0;
  let parts: Buffer[] = [];
  let held = 0;
  let overlong = false;
  const finish = (): JsonLine | null => {
    line++;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    parts = [];
    held = 0;
    if (overlong) {
      overlong = false;
      const hint = options.tooLongHint ? ` (${options.tooLongHint})` : '';
      return { line, ok: false, error: `line is longer than ${formatCount(maxLineBytes)} bytes${hint}; it was skipped` };
    }
    return parseLine(line, bytes);
  };

  // A stop signal ends the read by closing the input (racing each read against a
  // never-settled promise would keep every chunk alive through its reactions).
  const stop = () => input.destroy();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const next of input) {
      const chunk: Buffer = typeof next === 'string' ? Buffer.from(next) : (next as Buffer);
      let start = 0;
      for (let nl = chunk.indexOf(newline, start); nl >= 0; nl = chunk.indexOf(newline, start)) {
        hold(chunk.subarray(start, nl));
        const entry = finish();
        if (entry) yield entry;
        start = nl + 1;
      }
      hold(chunk.subarray(start));
      if (signal?.aborted) break;
    }
  } catch (err) {
    if (!signal?.aborted) {
      throw new UsageError(`cannot read ${options.name ?? 'the input'} after line ${line}: ${readProblem(err)}`, { cause: err });
    }
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  // The last line needs no newline; but one cut off by a stop signal is not a line.
  if ((held > 0 || overlong) && !signal?.aborted) {
    const entry = finish();
    if (entry) yield entry;
  }

  function hold(bytes: Buffer): void {
    if (overlong || bytes.length === 0) return;
    if (held + bytes.length > maxLineBytes) {
      overlong = true;
      parts = [];
      held = 0;
      return;
    }
    // Chunks are reused by some streams: keep a copy only of what outlives this one.
    parts.push(Buffer.from(bytes));
    held += bytes.length;
  }
}

function parseLine(line: number, bytes: Buffer): JsonLine | null {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { line, ok: false, error: 'not valid UTF-8' };
  }
  // A byte-order mark at the start of a file (TextDecoder drops it only when it comes first).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.trim();
  if (text === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { line, ok: false, error: `not valid JSON: ${errorMessage(err)}` };
  }
  const shape = duplicateKeyOrDepth(text);
  if (shape) return { line, ok: false, error: shape };
  return { line, ok: true, value };
}

/** Groups an async sequence into arrays of up to `size`, so large inputs are handled in bounded memory. */
export async function* inGroups<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let group: T[] = [];
  for await (const item of items) {
    group.push(item);
    if (group.length >= size) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}
