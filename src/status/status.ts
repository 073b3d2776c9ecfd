/**
 * `status`: how the queue, its results and the notifications stand, and whether anything
 * needs an operator. Everything is read without scanning: counts by state, the bus's
 * length, the size of the notification index, the remaining lifetime of overdue-sync's
 * last-run key.
 */
import type { RedisClient } from '../redis/redis.js';
import type { Database } from '../db/database.js';
import { errorMessage, isWrongType } from '../errors.js';
import { lastRunKeepSeconds, lastRunKeyOf } from '../notifications/sync-journal.js';
import { countRescopedContent } from '../rescope/content-table.js';
import { type FailedRow, type QueueCounts, countPastLease, oldestFailed, queueCounts } from '../rescope/queue-table.js';
import { formatCount } from '../cli/format.js';

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
  /** Ids waiting on the bus for a process run. */
  bus: number;
  /** Schools with a notification (as far as overdue-sync's index knows). */
  notifications: number;
  /** Seconds since the last successful overdue-sync ended; null if none in the last week. */
  lastOverdueSyncSecondsAgo: number | null;
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

/** Reading a key that holds another kind of value fails naming the key and its setting. */
function ownKey<T>(reading: Promise<T>, key: string, setting: string): Promise<T> {
  return reading.catch((err: unknown) => {
    if (!isWrongType(err)) throw err;
    throw new Error(`the Redis key ${key} holds another kind of value than mtc-batch keeps there: another program uses the same name; give mtc-batch a key of its own (${setting})`, { cause: err });
  });
}

async function redisStatus(redis: RedisClient, options: StatusOptions): Promise<RedisStatus> {
  const [bus, notifications, lastRunMs] = await Promise.all([
    ownKey(redis.llen(options.busKey), options.busKey, 'MTC_BATCH_BUS_KEY, --bus-key or a config file\'s busKey'),
    ownKey(redis.scard(options.notificationIndexKey), options.notificationIndexKey, 'MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file\'s notificationIndexKey'),
    redis.pttl(lastRunKeyOf(options.notificationIndexKey)),
  ]);
  // Every successful overdue-sync gives its last-run key the same lifetime: what is left
  // tells when, whatever the machines' clocks say.
  const lastOverdueSyncSecondsAgo = lastRunMs > 0 ? Math.max(0, Math.round(lastRunKeepSeconds - lastRunMs / 1000)) : null;
  return { bus, notifications, lastOverdueSyncSecondsAgo };
}

/**
 * `redis` may be a promise that fails: the database side is still reported, with the
 * Redis error as a problem.
 */
export async function getStatus(db: Database, redis: Promise<RedisClient>, options: StatusOptions): Promise<SystemStatus> {
  const [{ oldestQueuedAgeSeconds, ...queue }, pastLease, rescopedContent, failedRows, redisPart] = await Promise.all([
    queueCounts(db),
    countPastLease(db, options.leaseSeconds),
    countRescopedContent(db),
    oldestFailed(db, options.failedToShow ?? 5),
    redis.then((r) => redisStatus(r, options)).catch((err: unknown) => ({ error: errorMessage(err) })),
  ]);
  const problems: string[] = [];
  if ('error' in redisPart) problems.push(redisPart.error);
  if (queue.failed > 0) problems.push(`${formatCount(queue.failed)} queue rows failed after their last attempt and wait for an operator`);
  if (pastLease > 0) problems.push(`${formatCount(pastLease)} rows dispatched or processing past their ${options.leaseSeconds} s lease: is dispatch running?`);
  if (oldestQueuedAgeSeconds !== null && oldestQueuedAgeSeconds > options.leaseSeconds) {
    problems.push(`the oldest due queued row has waited ${oldestQueuedAgeSeconds} s: are dispatch and process running, and keeping up?`);
  }
  if (!('error' in redisPart)) {
    const ago = redisPart.lastOverdueSyncSecondsAgo;
    if (ago !== null && ago > options.notificationTtlSeconds) {
      problems.push(
        `overdue-sync has not run for longer than the notification TTL: it last succeeded ${ago} s ago, and entries live ${options.notificationTtlSeconds} s: ` +
          'is it scheduled, and does it succeed?',
      );
    } else if (ago === null && redisPart.notifications > 0) {
      problems.push(
        `overdue-sync has not run for longer than the notification TTL: no successful run for 7 days (or ever), yet ${formatCount(redisPart.notifications)} schools are listed as notified: ` +
          'is it scheduled, and does it succeed?',
      );
    }
  }
  if (!('error' in redisPart) && redisPart.bus > 0 && queue.dispatched === 0) {
    problems.push(`${redisPart.bus} ids on the bus but no row is dispatched: stale messages (process ignores them)`);
  }
  return { database: db.display, schema: db.schema, queue, oldestQueuedAgeSeconds, pastLease, rescopedContent, failedRows, redis: redisPart, healthy: problems.length === 0, problems };
}
