/**
 * A redis-server of a test's own on a free loopback port (for passwords, restarts and
 * other things the shared server must not be put through), stopped with the test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { closedPort } from './net.js';

export interface OwnRedis {
  port: number;
  /** redis://[:password@]127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop), e.g. to test a restart. */
  start(): Promise<void>;
}

export async function ownRedis(t: ExecutionContext, options: { password?: string; args?: string[] } = {}): Promise<OwnRedis> {
  const port = await closedPort();
  let server: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.password ? ['--requirepass', options.password] : []), ...(options.args ?? [])];
  const start = async () => {
    server = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ port, host: '127.0.0.1', password: options.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      const up = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
      probe.disconnect();
      if (up) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s || s.exitCode !== null) return;
    s.kill('SIGKILL');
    await new Promise((resolve) => s.once('exit', resolve));
  };
  await start();
  t.teardown(stop);
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return { port, url: `redis://${auth}127.0.0.1:${port}`, stop, start };
}
