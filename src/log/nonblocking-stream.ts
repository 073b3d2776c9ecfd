/**
 * A non-blocking sink for a long-running process's log. Node writes to stderr
 * synchronously when it is a file or a pipe: right for a one-shot job (no line is lost at
 * exit), but a server whose log reader falls behind (a busy node, a slow collector) would
 * stop answering until the pipe drains. Through this, lines are gathered for up to
 * `gatherMs` (or until `gatherBytes` are waiting) and handed to the file descriptor by
 * libuv's thread pool, many lines a write; `flush` waits until every line so far is out.
 *
 * Why gather for a while rather than one event-loop turn: each write is a job for the
 * thread pool (a thread woken, a system call, a callback), which cost a busy server about
 * as much CPU as building the lines did when a turn held only one or two of them.
 */
import { createWriteStream, writeSync } from 'node:fs';

export type LogSink = NodeJS.WritableStream & { isTTY?: boolean };

export interface NonBlockingSink {
  stream: LogSink;
  /** Resolves once everything written so far has reached the file descriptor. */
  flush(): Promise<void>;
}

export interface GatherOptions {
  /** Longest a line waits before it is written (default 50 ms). */
  gatherMs?: number;
  /** Lines waiting reach this many characters: written at once (default 32 Ki). */
  gatherBytes?: number;
}

/** Sinks with lines still waiting, for the synchronous last write at exit. */
const live = new Set<() => void>();
let exitHooked = false;

export function nonBlocking(target: LogSink & { fd?: unknown }, options: GatherOptions = {}): NonBlockingSink {
  // A stream without a file descriptor (a test's PassThrough) does not block anyway.
  if (typeof target.fd !== 'number') return { stream: target, flush: async () => undefined };
  const fd = target.fd;
  const gatherMs = options.gatherMs ?? 50;
  const gatherBytes = options.gatherBytes ?? 32 * 1024;
  const out = createWriteStream('', { fd, autoClose: false });
  // stderr itself failing leaves nowhere to report it.
  out.on('error', () => undefined);
  let pending: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const writeOut = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const text = pending.join('');
    pending = [];
    size = 0;
    live.delete(atExit);
    out.write(text);
  };
  // The process ending with lines still gathered (an uncaught error, process.exit): out
  // synchronously, unless an earlier write is still under way (they would interleave).
  function atExit() {
    if (pending.length === 0 || out.writableLength > 0) return;
    try {
      writeSync(fd, pending.join(''));
    } catch {
      // Nowhere to report it.
    }
    pending = [];
  }
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const sinkAtExit of live) sinkAtExit();
    });
  }
  const stream = {
    isTTY: target.isTTY,
    write(chunk: string | Uint8Array): boolean {
      const line = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (pending.length === 0) {
        live.add(atExit);
        // Unref'd: a gathering log never keeps the process alive; exit writes what waits.
        timer = setTimeout(writeOut, gatherMs).unref();
      }
      pending.push(line);
      size += line.length;
      if (size >= gatherBytes) writeOut();
      return true;
    },
  } as unknown as LogSink;
  return {
    stream,
    flush: () =>
      new Promise<void>((resolve) => {
        if (pending.length > 0) writeOut();
        // Writes complete in order: the callback of this one comes after every earlier line.
        out.write('', () => resolve());
      }),
  };
}
