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
import { settingPlace } from '../config/load-config.js';
import { redisDatabaseNumber } from '../config/urls.js';
import type { Config } from '../config/settings.js';
import { type ClusterTarget, parseClusterUrl } from './redis-url.js';

/**
 * What ioredis sends by itself on connecting, trimmed to what a least-privilege ACL user
 * may run (README, Redis ACL): no INFO ready check (INFO is in Redis's @dangerous
 * category; HELLO tells a cluster node apart instead, see checkServer) and no CLIENT
 * SETINFO (Redis 7.2+), which such a user would be refused, and every refusal noted in
 * the server's ACL LOG. Without the ready check nothing waits for a Redis still loading
 * its data after a restart: a job fails at connect (checkServer's PING) and the next run
 * works; a serve that reconnected answers 500, and its readiness 503, until it is loaded.
 */
const aclFriendlyHandshake = { enableReadyCheck: false, disableClientInfo: true } as const;

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
    // How long disconnect() lets a socket close by itself before destroying it. ioredis's
    // 2 s timer is never cleared for a socket that had already closed (a refused
    // connection), which kept a failed command's process alive 2 s after its answer.
    disconnectTimeout: 200,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
    ...aclFriendlyHandshake,
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
  client.on('error', (err) => {
    lastError = err;
  });
  client.on('node error', (err) => {
    lastError = err;
  });
  try {
    // A cluster client whose seeds answer but whose cluster is failing (a master down:
    // cluster_state:fail) neither connects nor fails: it ends. Its end, or no answer in
    // time, fails the connect.
    await (isCluster(client) ? untilConnected(client, common.connectTimeout) : client.connect());
  } catch (err) {
    client.disconnect();
    const cause = lastError ?? err;
    // A cluster's own error says only that no node gave its slots; ask the seeds why.
    const reason = cluster ? await whyNoSlots(cluster, common.connectTimeout) : errorMessage(cause);
    // A server that does not speak TLS never answers a TLS handshake: only the timeout says so.
    const tlsHint = /^rediss(\+cluster)?:/i.test(config.redisUrl) && /ETIMEDOUT|timed? ?out/i.test(reason ?? errorMessage(cause))
      ? ' (with rediss:// the server must speak TLS: one that does not never answers the handshake; use redis:// for a plain server)'
      : '';
    throw new ConnectionError(`cannot connect to Redis ${display}: ${reason ?? errorMessage(cause)}${tlsHint}`, { cause });
  }
  if (!isCluster(client)) {
    // The check and the SELECT go in one round trip; the check's answer is read first (a
    // refused password or a cluster node explains a failed SELECT).
    const checking = checkServer(client);
    const selecting = selectDatabase(client, config.redisUrl, display, settingPlace(config, 'redisUrl'));
    checking.catch(() => undefined);
    selecting.catch(() => undefined);
    let mode: string | null;
    try {
      mode = await checking;
    } catch (err) {
      client.disconnect();
      // A refused password fails the commands queued behind AUTH: report the refusal.
      const cause = lastError ?? err;
      throw new ConnectionError(`cannot connect to Redis ${display}: ${errorMessage(cause)}`, { cause });
    }
    if (mode === 'cluster') {
      client.disconnect();
      throw new ConfigError(`the Redis URL (${settingPlace(config, 'redisUrl')}) ${display} is a node of a Redis Cluster: write it as redis+cluster://host:port[,host:port…] (rediss+cluster:// for TLS)`);
    }
    await selecting;
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
 * The server's mode ('standalone', 'cluster', 'sentinel') from HELLO, which Redis answers
 * for every user whatever its ACL, and a PING in the same round trip: the one check that
 * the connection is usable (authenticated, data loaded) before a job starts its work, so
 * a missing password or a Redis still loading its data is one line naming the target.
 * The mode tells a plain URL at a cluster node, which would otherwise fail later, key by
 * key, with MOVED errors. Null when the server does not know HELLO (older than 6.0, or a
 * proxy), which then cannot be told apart and is taken as it is.
 */
async function checkServer(client: Redis): Promise<string | null> {
  const hello = client.call('HELLO', '2').then(
    (reply) => reply,
    (err: unknown) => {
      if (/unknown command/i.test(errorMessage(err))) return null;
      throw err;
    },
  );
  hello.catch(() => undefined);
  await client.ping();
  const reply = await hello;
  if (!Array.isArray(reply)) return null;
  const at = reply.indexOf('mode');
  return at >= 0 && typeof reply[at + 1] === 'string' ? (reply[at + 1] as string) : null;
}

/**
 * SELECTs the URL's database number; a server without it is a configuration error, and so
 * is an ACL user who may not run SELECT (the README's line for the jobs' user grants no
 * `+select`: a database other than 0 needs it added).
 */
async function selectDatabase(client: Redis, url: string, display: string, source: string): Promise<void> {
  const db = redisDatabaseNumber(url);
  if (db instanceof Error || db === 0) return;
  try {
    await client.select(db);
    // From now on ioredis selects it itself on every reconnect, in the handshake where it
    // handles a refusal. Left at 0, a reconnect began in database 0 and ioredis switched
    // back with SELECTs whose refusal nothing handled (a password changed while a job ran
    // crashed the process after its work was reported).
    client.options.db = db;
  } catch (err) {
    client.disconnect();
    const named = `the Redis URL (${source}) ${display} names database ${db}`;
    if (/^NOPERM\b/.test(errorMessage(err))) {
      const user = redisUserOf(url);
      throw new ConfigError(
        `${named}, but its Redis user ${user} may not run SELECT (${errorMessage(err)}): add +select to that user's ACL ` +
          `(ACL SETUSER ${user} +select, on every server that holds the user; see the README's Redis ACL)`,
        { cause: err },
      );
    }
    throw new ConfigError(`${named}, which the server does not have (${errorMessage(err)}; a default server has databases 0 to 15)`, { cause: err });
  }
}

/** The ACL user a single-server URL logs in as: its user name, else Redis's `default`. */
function redisUserOf(url: string): string {
  let name = '';
  try {
    name = decodeURIComponent(new URL(url).username);
  } catch {
    name = '';
  }
  return name === '' ? 'default' : name;
}

/** Credentials and TLS for a connection to a cluster node; `servername` is the host the certificate names. */
function nodeOptions(target: ClusterTarget, servername: string): RedisOptions {
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: { servername } } : {}),
  };
}

/** Connects a cluster client: rejects when it ends without connecting, or after `timeoutMs`. */
function untilConnected(client: Cluster, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no answer from the cluster within ${timeoutMs} ms`)), timeoutMs);
    const ended = () => done(new Error('the cluster client gave up connecting'));
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('end', ended);
      if (err) reject(err);
      else resolve();
    };
    client.once('end', ended);
    client.connect().then(() => done(), done);
  });
}

/** Why the seed nodes of a cluster gave no slots (refused, auth, cluster mode off, a failing cluster…), or null. */
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
        // As the jobs' own clients: a refused node must not hold the process 2 s.
        disconnectTimeout: 200,
        ...aclFriendlyHandshake,
        ...nodeOptions(target, host),
      });
      let failure: unknown;
      probe.on('error', (err) => {
        failure ??= err;
      });
      try {
        await probe.connect();
        await probe.cluster('SLOTS');
        // A master down: the nodes refuse every key until it is back or replaced.
        const state = /cluster_state:(\w+)/.exec(String(await probe.cluster('INFO')))?.[1];
        return state && state !== 'ok' ? `${host}:${port}: cluster_state:${state} (a master is down or not every slot is served; the cluster refuses commands until it recovers)` : null;
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
