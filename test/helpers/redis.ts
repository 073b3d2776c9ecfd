/**
 * Each test gets its own Redis key prefix; its keys are removed when it ends. Only tests
 * scan for keys: the toolkit itself never does. A test may ask for a Redis Cluster: the
 * first such test in a file starts one (three masters on loopback), stopped after the file.
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Cluster, Redis } from 'ioredis';
import { scanKeys } from '../../src/redis/nodes.js';
import type { RedisClient } from '../../src/redis/redis.js';
import { parseClusterUrl } from '../../src/redis/redis-url.js';
import { type TestCluster, startRedisCluster } from './redis-cluster.js';

export const redisUrl = process.env.MTC_BATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type RedisKind = 'single' | 'cluster';

/** Cluster variants run unless MTC_BATCH_TEST_REDIS_CLUSTER=0 (redis-server and redis-cli must be on the PATH). */
export const clusterTests = process.env.MTC_BATCH_TEST_REDIS_CLUSTER !== '0';

let cluster: Promise<TestCluster> | undefined;
let stopRegistered = false;

/** Registers the file's cluster to stop after its tests; call at module level of a file that uses one. */
export function useRedisCluster(): void {
  if (stopRegistered || !clusterTests) return;
  stopRegistered = true;
  test.after.always(async () => {
    if (cluster) await (await cluster).stop();
  });
}

async function clusterUrl(): Promise<string> {
  if (!stopRegistered) throw new Error('call useRedisCluster() at module level before asking for a cluster');
  cluster ??= startRedisCluster();
  return (await cluster).url;
}

export interface TestRedis {
  client: RedisClient;
  prefix: string;
  /** REDIS_URL for a CLI run against the same server or cluster. */
  url: string;
  kind: RedisKind;
  /** Another connection to the same server or cluster (closed with the test). */
  newClient(): RedisClient;
  /** Every key under the test's prefix, on every node. */
  keys(): Promise<string[]>;
}

function connect(url: string): RedisClient {
  const target = parseClusterUrl(url);
  return target ? new Cluster(target.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }) : new Redis(url, { maxRetriesPerRequest: 1 });
}

export async function isolatedRedis(t: ExecutionContext, kind: RedisKind = 'single'): Promise<TestRedis> {
  const prefix = `test:${randomBytes(5).toString('hex')}:`;
  const url = kind === 'cluster' ? await clusterUrl() : redisUrl;
  const opened: RedisClient[] = [];
  const newClient = () => {
    const c = connect(url);
    opened.push(c);
    return c;
  };
  const client = newClient();
  const keys = async () => {
    const found: string[] = [];
    for await (const page of scanKeys(client, `${prefix}*`)) found.push(...page.keys);
    return found;
  };
  await client.ping();
  t.teardown(async () => {
    for (const key of await keys()) await client.unlink(key);
    for (const c of opened) c.disconnect();
  });
  return { client, prefix, url, kind, newClient, keys };
}
