/**
 * `status`: how the queue, its results and the notifications stand, and whether anything
 * needs an operator. Everything is read without scanning: counts by state, the bus's
 * length, the size of the notification index, the remaining lifetime of overdue-sync's
 * last-run key, and the type and lifetime of its lock key (one no run wrote stops them all).
 */
import type { RedisClient } from '../redis/redis.js';
import type { Database } from '../db/database.js';
import { settingSources } from '../config/settings.js';
import { errorMessage, isWrongType } from '../errors.js';
import { lastRunKeepSeconds, lastRunKeyOf, lockKeyOf, lockRefusal } from '../notifications/sync-journal.js';
import { countRescopedContent } from '../rescope/content-table.js';
import { type FailedRow, type QueueCounts, countPastLease, oldestFailed, queueCounts } from '../rescope/queue-table.js';
import { formatCount } from '../cli/format.js';
import { plural } from '../cli/options.js';

export interface StatusOptions {
  leaseSeconds: number;
  busKey: string;
  notificationIndexKey: string;
  /**
   * The notifications' lifetime: an overdue-sync that last succeeded longer ago than this
   * has let every entry it wrote expire (it has stopped, or fails).
   */
  notificationTtlSeconds: number;
  /** How many failed rows to list. */
  failedToShow?: number;
}

export interface RedisStatus {
  /** Ids waiting on the bus for a process run; null when its key holds another type (see problems). */
  bus: number | null;
  /** Schools with a notification (as far as overdue-sync's index knows); null when the index holds another type. */
  notifications: number | null;
  /**
   * Seconds since the last successful overdue-sync ended; null if none in the last week, or
   * when its key holds another type (see problems).
   */
  lastOverdueSyncSecondsAgo: number | null;
  /**
   * False when the last-run key holds another type, or a string with a lifetime no run
   * gives it (see problems): the figure above is then not known, not "never".
   */
  lastOverdueSyncRead: boolean;
}

/** What was read of Redis, and the problems of its keys that hold what mtc-batch never writes there. */
interface RedisRead {
  status: RedisStatus;
  /**
   * One problem per key that holds another Redis type than mtc-batch keeps there, or a
   * value overdue-sync never writes (a lock no run can take, a last-run key's lifetime).
   */
  keyProblems: string[];
}

export interface SystemStatus {
  /** The database URL, password masked. */
  database: string;
  /** The PostgreSQL schema the database part was read from (MTC_BATCH_DATABASE_SCHEMA), or null for the server's default. */
  schema: string | null;
  queue: Omit<QueueCounts, 'oldestQueuedAgeSeconds'>;
  oldestQueuedAgeSeconds: number | null;
  pastLease: number;
  rescopedContent: number;
  failedRows: FailedRow[];
  redis: RedisStatus | { error: string };
  healthy: boolean;
  problems: string[];
}

const busSetting = settingSources('busKey');
const indexSetting = settingSources('notificationIndexKey');

/**
 * A key of another Redis type than mtc-batch keeps there is another program's (or a
 * misconfiguration): one problem naming the key, what it holds, what it should hold and
 * the setting that names it. status still reports every other figure.
 */
function wrongType(key: string, type: string, expected: string, what: string, setting: string): string {
  return `the Redis key ${key} holds a ${type}, not a ${expected} (${what}): another program uses the same name; give mtc-batch a key of its own (${setting})`;
}

type Read<T> = { value: T } | { wrongType: string };

/** Reads a key of type `expected` (`none` is fine: an absent key reads as empty); WRONGTYPE becomes a problem, not a failure. */
async function readOwn<T>(redis: RedisClient, reading: Promise<T>, key: string, expected: string, what: string, setting: string): Promise<Read<T>> {
  try {
    return { value: await reading };
  } catch (err) {
    if (!isWrongType(err)) throw err;
    return { wrongType: wrongType(key, await redis.type(key), expected, what, setting) };
  }
}

async function redisStatus(redis: RedisClient, options: StatusOptions): Promise<RedisRead> {
  const lastRunKey = lastRunKeyOf(options.notificationIndexKey);
  const lock = lockKeyOf(options.notificationIndexKey);
  const [bus, notifications, lastRunMs, lastRunType, lockMs, lockType] = await Promise.all([
    readOwn(redis, redis.llen(options.busKey), options.busKey, 'list', 'the rescope bus', busSetting),
    readOwn(redis, redis.scard(options.notificationIndexKey), options.notificationIndexKey, 'set', "overdue-sync's index of notified schools", indexSetting),
    redis.pttl(lastRunKey),
    // PTTL answers for a key of any type: the type tells whether the lifetime is overdue-sync's.
    redis.type(lastRunKey),
    // A lock no run wrote stops every overdue-sync (it refuses to run), while every figure
    // here still looks healthy: read as overdue-sync reads it.
    redis.pttl(lock),
    redis.type(lock),
  ]);
  const keyProblems: string[] = [];
  for (const read of [bus, notifications]) if ('wrongType' in read) keyProblems.push(read.wrongType);
  const lastRunWhat = "overdue-sync's time of its last success, named after the notification index key";
  let lastRunRead = lastRunType === 'string' || lastRunType === 'none';
  if (!lastRunRead) keyProblems.push(wrongType(lastRunKey, lastRunType, 'string', lastRunWhat, indexSetting));
  else if (lastRunType === 'string' && (lastRunMs === -1 || lastRunMs > lastRunKeepSeconds * 1000)) {
    // Every run SETs it with EX lastRunKeepSeconds: a string that outlives that (or never
    // expires) was written by something else, and its lifetime would read as a run that
    // ended moments ago (or, without one, as no run for a week).
    lastRunRead = false;
    keyProblems.push(
      `the Redis key ${lastRunKey} holds a string ${lastRunMs === -1 ? 'without a lifetime' : `with ${Math.round(lastRunMs / 1000)} s to live`}, ` +
        `where every run of overdue-sync gives it ${lastRunKeepSeconds} s (7 days): not written by overdue-sync, so when overdue-sync last succeeded is not known ` +
        `(${lastRunWhat}); the next successful overdue-sync replaces it, so if another program uses that name give mtc-batch a key of its own now (${indexSetting})`,
    );
  }
  const lockProblem = lockRefusal(lock, lockType, lockMs);
  if (lockProblem !== null) keyProblems.push(lockProblem);
  // Every successful overdue-sync gives its last-run key the same lifetime: what is left
  // tells when, whatever the machines' clocks say.
  const lastOverdueSyncSecondsAgo = lastRunRead && lastRunMs > 0 ? Math.max(0, Math.round(lastRunKeepSeconds - lastRunMs / 1000)) : null;
  const status = { bus: 'value' in bus ? bus.value : null, notifications: 'value' in notifications ? notifications.value : null, lastOverdueSyncSecondsAgo, lastOverdueSyncRead: lastRunRead };
  return { status, keyProblems };
}

/**
 * `redis` may be a promise that fails: the database side is still reported, with the
 * Redis error as a problem. A key of another Redis type, or holding what overdue-sync
 * never writes there, is a problem of its own, and everything else is still read.
 */
export async function getStatus(db: Database, redis: Promise<RedisClient>, options: StatusOptions): Promise<SystemStatus> {
  const [{ oldestQueuedAgeSeconds, ...queue }, pastLease, rescopedContent, failedRows, redisPart] = await Promise.all([
    queueCounts(db),
    countPastLease(db, options.leaseSeconds),
    countRescopedContent(db),
    oldestFailed(db, options.failedToShow ?? 5),
    redis.then((r) => redisStatus(r, options)).catch((err: unknown) => ({ error: errorMessage(err) })),
  ]);
  const redisFigures = 'error' in redisPart ? redisPart : redisPart.status;
  const problems: string[] = [];
  if ('error' in redisPart) problems.push(redisPart.error);
  else problems.push(...redisPart.keyProblems);
  if (queue.failed > 0) {
    const one = queue.failed === 1;
    problems.push(`${plural(queue.failed, 'queue row')} failed after ${one ? 'its' : 'their'} last attempt and ${one ? 'waits' : 'wait'} for an operator`);
  }
  if (pastLease > 0) problems.push(`${plural(pastLease, 'row')} dispatched or processing past ${pastLease === 1 ? 'its' : 'their'} ${options.leaseSeconds} s lease: is dispatch running?`);
  if (oldestQueuedAgeSeconds !== null && oldestQueuedAgeSeconds > options.leaseSeconds) {
    problems.push(`the oldest due queued row has waited ${oldestQueuedAgeSeconds} s: are dispatch and process running, and keeping up?`);
  }
  if (!('error' in redisPart)) {
    const { lastOverdueSyncSecondsAgo: ago, notifications, bus } = redisPart.status;
    if (ago !== null && ago > options.notificationTtlSeconds) {
      problems.push(
        `overdue-sync has not run for longer than the notification TTL: it last succeeded ${ago} s ago, and entries live ${options.notificationTtlSeconds} s: ` +
          'is it scheduled, and does it succeed?',
      );
    } else if (ago === null && redisPart.status.lastOverdueSyncRead && notifications !== null && notifications > 0) {
      // (A last-run key of another type, or another program's string, tells nothing of
      // overdue-sync: its own problem is listed.)
      problems.push(
        `overdue-sync has not run for longer than the notification TTL: no successful run for 7 days (or ever), yet ${notifications === 1 ? '1 school is' : `${formatCount(notifications)} schools are`} listed as notified: ` +
          'is it scheduled, and does it succeed?',
      );
    }
    if (bus !== null && bus > 0 && queue.dispatched === 0) {
      problems.push(`${plural(bus, 'id')} on the bus but no row is dispatched: stale messages (process ignores them)`);
    }
  }
  return { database: db.display, schema: db.schema, queue, oldestQueuedAgeSeconds, pastLease, rescopedContent, failedRows, redis: redisFigures, healthy: problems.length === 0, problems };
}
