import { createConnection, createServer } from 'node:net';
import test from 'ava';
import { startTcpProxy } from './helpers/tcp-proxy.js';

test('the delaying proxy keeps every byte in order, even when its clock ticks between chunks read in one turn', async (t) => {
  // A loaded machine: the process is descheduled at any point, so the clock may move on
  // between any two readings. Simulated by a clock that jumps ahead at random readings.
  const realNow = Date.now;
  let skew = 0;
  Date.now = () => {
    if (Math.random() < 0.3) skew++;
    return realNow() + skew;
  };
  t.teardown(() => {
    Date.now = realNow;
  });
  const echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  t.teardown(() => echo.close());
  const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: (echo.address() as { port: number }).port, delayMs: 5 });
  t.teardown(() => proxy.close());
  const socket = createConnection({ host: '127.0.0.1', port: proxy.port });
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  await new Promise((resolve) => socket.once('connect', resolve));
  // Numbered 8-byte records, 8 MB in all, written 256 kB at a time: the proxy reads
  // several chunks in one turn of the event loop.
  const records = 1_000_000;
  const sent = Buffer.alloc(records * 8);
  for (let i = 0; i < records; i++) sent.write(i.toString(36).padStart(8, '0'), i * 8);
  for (let offset = 0; offset < sent.length; offset += 1 << 18) socket.write(sent.subarray(offset, offset + (1 << 18)));
  while (received.reduce((n, c) => n + c.length, 0) < sent.length) await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
  t.true(Buffer.concat(received).equals(sent));
});
