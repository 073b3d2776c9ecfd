/**
 * A Redis server of a test's own, on a free loopback port (e.g. with --requirepass), for
 * tests that must not touch the shared server's settings. Stopped and removed afterwards.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { freePorts, until } from './redis-cluster.js';

export interface OwnRedisServer {
  port: number;
}

/** Starts redis-server with `args` (plus a free port, no persistence); stopped when `t` ends. */
export async function ownRedisServer(t: ExecutionContext, options: { password?: string } = {}): Promise<OwnRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-redis-'));
  const [port] = (await freePorts(1)) as [number];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  t.teardown(async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await until(`redis-server on ${port} answering`, async () => {
    const probe = new Redis({ port, host: '127.0.0.1', password: options.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  });
  return { port };
}
