import test from 'ava';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '../src/log/logger.js';
import { nonBlocking } from '../src/log/nonblocking-stream.js';

test('log lines written without blocking arrive whole and in order, one write per event-loop turn, all out after flush', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const sink = nonBlocking({ fd, write: () => true } as never);
  const log = createLogger({ format: 'json', level: 'info', stream: sink.stream, base: { command: 'serve' } });
  for (let i = 0; i < 500; i++) log.info('request', { n: i });
  t.is(readFileSync(file, 'utf8'), '', 'nothing written while the handler runs');
  await new Promise((resolve) => setImmediate(resolve));
  log.info('request', { n: 500 });
  await sink.flush();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { n: number; command: string });
  t.deepEqual(lines.map((l) => l.n), Array.from({ length: 501 }, (_, i) => i));
  t.true(lines.every((l) => l.command === 'serve'));
});

test('a stream without a file descriptor is used as it is', async (t) => {
  const stream = new PassThrough();
  const sink = nonBlocking(stream);
  t.is(sink.stream, stream);
  await sink.flush();
});
