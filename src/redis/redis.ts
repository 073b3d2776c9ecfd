/**
 * Opening Redis for a one-shot job: fail fast with one clear line when it is not there,
 * tolerate a brief blip once connected, and never hang a CronJob on reconnects.
 *
 * `REDIS_URL` names one server (`redis://`, `rediss://`) or a cluster
 * (`redis+cluster://host1:7000,host2:7001`, `rediss+cluster://…`; credentials and TLS as
 * for one server), for which ioredis's Cluster client is used.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError, ConnectionError, errorMessage } from '../errors.js';
import { maskUrl } from '../config/settings.js';
import { redisDatabaseNumber } from '../config/urls.js';
import type { Config } from '../config/settings.js';
import { type ClusterTarget, parseClusterUrl } from './redis-url.js';

/** One server or a cluster: every command the jobs send to a single key works on both. */
export type RedisClient = Redis | Cluster;

export interface RedisHandle {
  readonly client: RedisClient;
  /** Masked URL, for messages. */
  readonly display: string;
  close(): Promise<void>;
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

export interface OpenRedisOptions {
  /**
   * 'briefly' (one-shot jobs): after a connection drops, a few quick retries, then the job
   * fails. 'forever' (serve): keep reconnecting (at most 2 s apart) while commands fail
   * fast, so a Redis restart costs a long-running server errors, not its connection.
   */
  reconnect?: 'briefly' | 'forever';
  /** Fail a command with no reply after this long (0: wait). */
  commandTimeoutMs?: number;
}

export async function openRedis(config: Pick<Config, 'redisUrl'>, options: OpenRedisOptions = {}): Promise<RedisHandle> {
  const display = maskUrl(config.redisUrl);
  let lastError: unknown;
  const cluster = parseClusterUrl(config.redisUrl);
  const common = {
    connectTimeout: 5_000,
    // A command waits through at most one reconnect, then fails the job rather than hang.
    maxRetriesPerRequest: 1,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
  };
  const client: RedisClient = cluster
    ? new Cluster(cluster.nodes, {
        lazyConnect: true,
        // No retries while connecting: an unreachable cluster is reported at once.
        clusterRetryStrategy: () => null,
        // The certificate names the host the cluster was reached by, not the node
        // addresses it announces (Azure Cache for Redis, ElastiCache).
        redisOptions: { ...common, ...nodeOptions(cluster, cluster.nodes[0]!.host) },
        ...(cluster.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
      })
    : // The database is selected below, where a refusal can be reported: ioredis only
      // emits an error event for a failed SELECT and goes on in database 0.
      new Redis(config.redisUrl, { ...common, lazyConnect: true, retryStrategy: () => null });
  if (!isCluster(client)) client.options.db = 0;
  let clusterEnabled = false;
  if (!isCluster(client)) watchClusterMode(client, (enabled) => (clusterEnabled = enabled));
  client.on('error', (err) => {
    lastError = err;
  });
  client.on('node error', (err) => {
    lastError = err;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    const cause = lastError ?? err;
    // A cluster's own error says only that no node gave its slots; ask the seeds why.
    const reason = cluster ? await whyNoSlots(cluster, common.connectTimeout) : errorMessage(cause);
    throw new ConnectionError(`cannot connect to Redis ${display}: ${reason ?? errorMessage(cause)}`, { cause });
  }
  if (!isCluster(client)) {
    if (clusterEnabled) {
      client.disconnect();
      throw new ConfigError(`REDIS_URL ${display} is a node of a Redis Cluster: write it as redis+cluster://host:port[,host:port…] (rediss+cluster:// for TLS)`);
    }
    await selectDatabase(client, config.redisUrl, display);
  }
  // Connected: from now on a dropped connection is retried briefly.
  const retry = options.reconnect === 'forever' ? (times: number) => Math.min(times * 200, 2_000) : (times: number) => (times > 3 ? null : times * 200);
  if (isCluster(client)) client.options.clusterRetryStrategy = retry;
  else client.options.retryStrategy = retry;
  let closed = false;
  return {
    client,
    display,
    async close() {
      if (closed) return;
      closed = true;
      // Every command has had its reply by now: QUIT would only add a round trip.
      client.disconnect();
    },
  };
}

/**
 * Notes whether the server runs in cluster mode, from the INFO reply of ioredis's own
 * ready check (no extra round trip): a plain URL at a cluster node would otherwise fail
 * later, key by key, with MOVED errors.
 */
function watchClusterMode(client: Redis, report: (enabled: boolean) => void): void {
  const connector = (client as unknown as { connector: { check(info: Record<string, string>): boolean } }).connector;
  const check = connector.check.bind(connector);
  connector.check = (info) => {
    report(info.cluster_enabled === '1');
    return check(info);
  };
}

/** SELECTs the URL's database number; a server without it is a configuration error. */
async function selectDatabase(client: Redis, url: string, display: string): Promise<void> {
  const db = redisDatabaseNumber(url);
  if (db instanceof Error || db === 0) return;
  try {
    await client.select(db);
  } catch (err) {
    client.disconnect();
    throw new ConfigError(`REDIS_URL ${display} names database ${db}, which the server does not have (${errorMessage(err)}; a default server has databases 0 to 15)`, { cause: err });
  }
}

/** Credentials and TLS for a connection to a cluster node; `servername` is the host the certificate names. */
function nodeOptions(target: ClusterTarget, servername: string): RedisOptions {
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: { servername } } : {}),
  };
}

/** Why the seed nodes of a cluster gave no slots (refused, auth, cluster mode off…), or null. */
async function whyNoSlots(target: ClusterTarget, connectTimeout: number): Promise<string | null> {
  const reasons = await Promise.all(
    target.nodes.map(async ({ host, port }) => {
      const probe = new Redis({
        host,
        port,
        connectTimeout,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        ...nodeOptions(target, host),
      });
      let failure: unknown;
      probe.on('error', (err) => {
        failure ??= err;
      });
      try {
        await probe.connect();
        await probe.cluster('SLOTS');
        return null;
      } catch (err) {
        return `${host}:${port}: ${errorMessage(failure ?? err)}`;
      } finally {
        probe.disconnect();
      }
    }),
  );
  const known = reasons.filter((r): r is string => r !== null);
  return known.length > 0 ? known.join('; ') : null;
}
