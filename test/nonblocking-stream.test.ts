import test from 'ava';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/log/logger.js';
import { nonBlocking } from '../src/log/nonblocking-stream.js';

function logFile(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  return { file, fd };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not within 5 s: ${what}`);
}

const numbers = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { n: number }).n);

test('log lines written without blocking arrive whole and in order, gathered into few writes, all out after flush', async (t) => {
  const { file, fd } = logFile(t);
  // A long gathering time, room for every line: nothing may reach the file before flush.
  const sink = nonBlocking({ fd, write: () => true } as never, { gatherMs: 60_000, gatherBytes: 1e9 });
  const log = createLogger({ format: 'json', level: 'info', stream: sink.stream, base: { command: 'serve' } });
  for (let i = 0; i < 500; i++) log.info('request', { n: i });
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(readFileSync(file, 'utf8'), '', 'nothing written while lines gather');
  log.info('request', { n: 500 });
  await sink.flush();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { n: number; command: string });
  t.deepEqual(lines.map((l) => l.n), Array.from({ length: 501 }, (_, i) => i));
  t.true(lines.every((l) => l.command === 'serve'));
});

test('gathered lines go out by themselves after the gathering time, or at once when enough wait', async (t) => {
  const timed = logFile(t);
  const bySize = logFile(t);
  const a = nonBlocking({ fd: timed.fd, write: () => true } as never, { gatherMs: 20 });
  const b = nonBlocking({ fd: bySize.fd, write: () => true } as never, { gatherMs: 60_000, gatherBytes: 1000 });
  for (let i = 0; i < 3; i++) a.stream.write(`{"n":${i}}\n`);
  await until(() => numbers(timed.file).length === 3, 'the timed lines');
  t.deepEqual(numbers(timed.file), [0, 1, 2]);
  // 200 lines of about 9 characters: written in batches of 1,000 characters, no flush.
  for (let i = 0; i < 200; i++) b.stream.write(`{"n":${i}}\n`);
  await until(() => numbers(bySize.file).length >= 100, 'the lines over the size');
  t.deepEqual(numbers(bySize.file), Array.from({ length: numbers(bySize.file).length }, (_, i) => i));
  await b.flush();
  t.deepEqual(numbers(bySize.file), Array.from({ length: 200 }, (_, i) => i));
});

test('lines still gathered when the process exits are written before it ends', (t) => {
  const sinkModule = fileURLToPath(new URL('../src/log/nonblocking-stream.js', import.meta.url));
  const script = `
    const { nonBlocking } = await import(${JSON.stringify(sinkModule)});
    const sink = nonBlocking(process.stderr, { gatherMs: 60000 });
    for (let i = 0; i < 100; i++) sink.stream.write(JSON.stringify({ n: i }) + '\\n');
    process.exit(3);
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.is(child.status, 3, child.stderr);
  t.deepEqual(
    child.stderr.trimEnd().split('\n').map((l) => (JSON.parse(l) as { n: number }).n),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('a stream without a file descriptor is used as it is', async (t) => {
  const stream = new PassThrough();
  const sink = nonBlocking(stream);
  t.is(sink.stream, stream);
  await sink.flush();
});
