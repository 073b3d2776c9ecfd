/**
 * JSON lines from a file or stdin, one parsed value per line with its line number. A line
 * that is not JSON is reported with its number and reading goes on: one bad line never
 * costs the good ones around it. Blank lines are skipped.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { UsageError, errorMessage } from '../errors.js';

export type JsonLine = { line: number; ok: true; value: unknown } | { line: number; ok: false; error: string };

/** Longest line accepted; a longer one is reported instead of held in memory. */
export const maxLineLength = 1_000_000;

/** Opens `source` (a path, or '-' for `stdin`); fails with a UsageError naming `flag` when it cannot be read. */
export async function openJsonLines(source: string, stdin: Readable, flag: string): Promise<{ input: Readable; bytes: number | null }> {
  if (source === '-') return { input: stdin, bytes: null };
  try {
    const info = await stat(source);
    if (!info.isFile()) throw new Error('not a regular file');
    return { input: createReadStream(source), bytes: info.size };
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${source}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Lines until the input ends, or until `signal` is aborted (then the lines read so far). */
export async function* readJsonLines(input: Readable, signal?: AbortSignal): AsyncGenerator<JsonLine> {
  if (signal?.aborted) return;
  const lines = createInterface({ input, crlfDelay: Infinity, ...(signal ? { signal } : {}) });
  let line = 0;
  for await (const text of lines) {
    line++;
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.length > maxLineLength) {
      yield { line, ok: false, error: `line is longer than ${maxLineLength} characters` };
      continue;
    }
    try {
      yield { line, ok: true, value: JSON.parse(trimmed) };
    } catch (err) {
      yield { line, ok: false, error: `not valid JSON: ${errorMessage(err)}` };
    }
  }
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
