/**
 * A real Redis Cluster for the tests: three masters on loopback ports, started with
 * redis-server --cluster-enabled and joined with redis-cli --cluster create, stopped and
 * removed afterwards. Nothing is kept on disk beyond the run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { exec } from './exec.js';

export interface TestCluster {
  /** `redis+cluster://…` for REDIS_URL. */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports whose cluster bus port (port + 10000) is free as well. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    // Data ports 10,000-19,999 and bus ports 20,000-29,999: no cluster's data port is
    // another's bus port, and neither is in Linux's range for ephemeral ports (32,768 and
    // up), which other tests' servers and every client connection take from.
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (!ports.includes(port) && (await isFree(port)) && (await isFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Redis cluster: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ask(port: number, fn: (r: Redis) => Promise<boolean>): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/**
 * Starts a cluster; tried again on new ports when a start fails. Test files start clusters
 * in parallel processes, and a port found free can be taken by another one before its
 * server binds it (the server then exits, and its node never answers).
 */
export async function startRedisCluster(masters = 3): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(masters);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

async function startClusterOnce(masters: number): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-cluster-'));
  const ports = await freePorts(masters);
  const servers: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', `redis-${port}.log`],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    for (const server of servers) server.kill('SIGTERM');
    await Promise.all(servers.map((s) => (s.exitCode !== null ? Promise.resolve() : new Promise((resolve) => s.once('exit', resolve)))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, port] of ports.entries()) {
      // A server that exited (its port was taken) ends the wait at once.
      await until(`node ${port} answering`, async () => servers[i]!.exitCode !== null || ask(port, async (r) => (await r.ping()) === 'PONG'));
      if (servers[i]!.exitCode !== null) throw new Error(`Redis cluster: node ${port} exited (its port was taken)`);
    }
    const created = await exec('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    for (const port of ports) await until(`node ${port} joined`, () => ask(port, async (r) => (await r.cluster('INFO')).includes('cluster_state:ok')));
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, stop };
}
