/**
 * A non-blocking sink for a long-running process's log. Node writes to stderr
 * synchronously when it is a file or a pipe: right for a one-shot job (no line is lost at
 * exit), but a server whose log reader falls behind (a busy node, a slow collector) would
 * stop answering until the pipe drains. Through this, lines are gathered for one turn of
 * the event loop and handed to the file descriptor by libuv's thread pool, many lines a
 * write; `flush` waits until every line so far is out.
 */
import { createWriteStream } from 'node:fs';

export type LogSink = NodeJS.WritableStream & { isTTY?: boolean };

export interface NonBlockingSink {
  stream: LogSink;
  /** Resolves once everything written so far has reached the file descriptor. */
  flush(): Promise<void>;
}

export function nonBlocking(target: LogSink & { fd?: unknown }): NonBlockingSink {
  // A stream without a file descriptor (a test's PassThrough) does not block anyway.
  if (typeof target.fd !== 'number') return { stream: target, flush: async () => undefined };
  const out = createWriteStream('', { fd: target.fd, autoClose: false });
  // stderr itself failing leaves nowhere to report it.
  out.on('error', () => undefined);
  // Lines of one turn of the event loop go out as one write: a thread-pool job per line
  // would cost more than the line.
  let pending: string[] = [];
  const writeOut = () => {
    const text = pending.join('');
    pending = [];
    out.write(text);
  };
  const stream = {
    isTTY: target.isTTY,
    write(chunk: string | Uint8Array): boolean {
      if (pending.length === 0) setImmediate(writeOut);
      pending.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
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
