/**
 * The periodic job of the notifications design: recompute every school's notification
 * from SQL and rewrite Redis, removing the entries of schools that no longer qualify.
 *
 * The run lock is taken before the query starts, while the database opens (see
 * sync-journal.ts for why notify-invalid needs it held from before the snapshot). Then
 * the Redis pass is two round trips whatever the number of schools:
 *   1. fold any "next" set a crashed run left into "current" (the index of the last run);
 *      then for each chunk of schools: SADD into "next", and SET all of them with their TTL
 *      in one script call; then SDIFF current next: the schools notified last time that
 *      no longer qualify, read from the index, without KEYS and without reading any
 *      notification. All of it sent without waiting: one connection runs it in order;
 *   2. UNLINK those entries, RENAME next to current, then one script takes the journal of
 *      notify-invalid writes made meanwhile (their schools join the index) and releases
 *      the lock. Only when the journal held something, a third round trip replays them.
 * A school enters "next" before its key is written, and "next" is folded into "current"
 * by the following run, so a run that dies half-way leaves every key it wrote known to
 * the next one, which removes whatever should go. The run lock makes the fixed name of
 * "next" safe. Keys are only ever written or removed under the notification prefix; the
 * index, "next", the lock and the journal share one {hash tag}.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { type RedisClient, isCluster } from '../redis/redis.js';
import { PackedEntries, addToSet, loadWriterScripts, setPackedWithTtl, unlinkMany } from '../redis/redis-writer.js';
import { mergePupils } from './merge-pupils.js';
import { type NotificationFormat, notificationJson, notificationKey, storedValue } from './notification.js';
import { schoolConcerns } from './school-concerns.js';
import { abandonRun, finishRun, loadSyncScripts, lockKeyOf, lockMs, nextKeyOf } from './sync-journal.js';

export interface OverdueSyncOptions {
  overdueAfterMinutes: number;
  notificationTtlSeconds: number;
  notificationPrefix: string;
  notificationIndexKey: string;
  notificationFormat: NotificationFormat;
  dryRun?: boolean;
  /** The run's clock (tests pin it). */
  now?: Date;
  log?: Logger;
  /** Called with the number of schools read so far, now and then (progress). */
  onSchools?: (count: number) => void;
  /**
   * For tests: awaited right after the query has read every school, and right before the
   * removals, so a test can run notify-invalid at exactly those points. Not for production use.
   */
  hooks?: { afterQuery?: () => Promise<void>; beforeRemoval?: () => Promise<void> };
}

export interface OverdueSyncResult {
  /** Schools with a notification. */
  schools: number;
  overdueChecks: number;
  processingErrors: number;
  /** Entries of schools that qualified in the last run and no longer do. */
  removed: number;
  timings: { sqlMs: number; redisMs: number };
  /** Set when another run held the lock and this one did nothing (not even the query). */
  skipped?: string;
  /** Dry run only: what would be written and removed. */
  wouldWrite?: Array<{ key: string; value: string }>;
  wouldRemove?: string[];
}

interface Concerns {
  schools: string[];
  overdueChecks: number;
  processingErrors: number;
  sqlMs: number;
}

/**
 * One pass. `db` and `redisClient` may still be opening: both are awaited together (the
 * lock's round trip overlaps the database's opening), and a failure of either fails the
 * run at once, never later and unobserved.
 */
export async function overdueSync(db: Database | Promise<Database>, redisClient: RedisClient | Promise<RedisClient>, options: OverdueSyncOptions): Promise<OverdueSyncResult> {
  const connecting = Promise.resolve(redisClient);
  const log = options.log ?? silentLogger;
  const now = options.now ?? new Date();
  const index = options.notificationIndexKey;
  if (options.dryRun) {
    const [database, redis] = await Promise.all([db, connecting]);
    return dryRun(database, redis, now, options);
  }

  const token = randomUUID();
  const lock = lockKeyOf(index);
  const [opened, locked] = await Promise.allSettled([
    Promise.resolve(db),
    connecting.then(async (redis) => ({ redis, held: (await redis.set(lock, token, 'PX', lockMs, 'NX')) === 'OK' })),
  ]);
  const abandon = (redis: RedisClient) =>
    abandonRun(redis, index, token).catch((err: unknown) => log.warn('could not release the overdue-sync lock; it expires by itself', { error: String(err) }));
  if (opened.status === 'rejected') {
    if (locked.status === 'fulfilled' && locked.value.held) await abandon(locked.value.redis);
    throw opened.reason;
  }
  if (locked.status === 'rejected') throw locked.reason;
  const { redis, held } = locked.value;
  if (!held) {
    const left = await redis.pttl(lock);
    return {
      schools: 0, overdueChecks: 0, processingErrors: 0, removed: 0, timings: { sqlMs: 0, redisMs: 0 },
      skipped: `another overdue-sync holds ${lock} (for ${Math.max(0, Math.round(left / 1000))} s more); nothing read or written`,
    };
  }

  // Scripts load while the query runs, so a pass's commands are never reordered by a
  // first-use NOSCRIPT retry. Awaited before the pass, where a failure is reported.
  const loading = Promise.all([loadWriterScripts(redis), loadSyncScripts(redis)]);
  loading.catch(() => undefined);
  try {
    const packed = new PackedEntries();
    const read = await readConcerns(opened.value, now, options, (key, value) => packed.add(key, value));
    await options.hooks?.afterQuery?.();
    await loading;
    const redisStarted = performance.now();
    const removed = await rewrite(redis, packed, read.schools, now, token, options);
    const { sqlMs } = read;
    return { schools: read.schools.length, overdueChecks: read.overdueChecks, processingErrors: read.processingErrors, removed, timings: { sqlMs, redisMs: Math.round(performance.now() - redisStarted) } };
  } catch (err) {
    await abandon(redis);
    throw err;
  }
}

/** SQL: every school's notification, handed to `onEntry` while the rows arrive. */
async function readConcerns(db: Database, now: Date, options: OverdueSyncOptions, onEntry: (key: string, value: string) => void): Promise<Concerns> {
  const log = options.log ?? silentLogger;
  const cutoff = new Date(now.getTime() - options.overdueAfterMinutes * 60_000);
  const started = performance.now();
  const read: Concerns = { schools: [], overdueChecks: 0, processingErrors: 0, sqlMs: 0 };
  for await (const concern of schoolConcerns(db, cutoff)) {
    const value = notificationJson(concern.schoolUuid, now, concern.processingErrorPupils, concern.overdueChecks);
    if (value === null) {
      log.warn(`school ${concern.schoolUuid}: an id of its pupils or checks is not a UUID; its notification is left out`);
      continue;
    }
    onEntry(notificationKey(options.notificationPrefix, concern.schoolUuid), storedValue(value, options.notificationFormat));
    read.schools.push(concern.schoolUuid);
    read.overdueChecks += concern.overdueCount;
    read.processingErrors += concern.processingErrorCount;
    if (read.schools.length % 5_000 === 0) options.onSchools?.(read.schools.length);
  }
  options.onSchools?.(read.schools.length);
  read.sqlMs = Math.round(performance.now() - started);
  log.debug(`read ${read.schools.length} schools to notify`, { sqlMs: read.sqlMs, cutoff: cutoff.toISOString() });
  return read;
}

async function dryRun(db: Database, redis: RedisClient, now: Date, options: OverdueSyncOptions): Promise<OverdueSyncResult> {
  const entries: Array<{ key: string; value: string }> = [];
  const read = await readConcerns(db, now, options, (key, value) => entries.push({ key, value }));
  const redisStarted = performance.now();
  const previous = await redis.smembers(options.notificationIndexKey);
  const qualifying = new Set(read.schools);
  const wouldRemove = previous.filter((school) => !qualifying.has(school)).map((school) => notificationKey(options.notificationPrefix, school));
  return {
    schools: read.schools.length,
    overdueChecks: read.overdueChecks,
    processingErrors: read.processingErrors,
    removed: wouldRemove.length,
    timings: { sqlMs: read.sqlMs, redisMs: Math.round(performance.now() - redisStarted) },
    wouldWrite: entries,
    wouldRemove,
  };
}

/** The Redis pass (see the top of this file). Returns how many entries it removed. */
async function rewrite(redis: RedisClient, packed: PackedEntries, schools: readonly string[], now: Date, token: string, options: OverdueSyncOptions): Promise<number> {
  const ttl = options.notificationTtlSeconds;
  const current = options.notificationIndexKey;
  const next = nextKeyOf(current);
  // In a cluster the entries live on other nodes than the index: an order that one
  // connection keeps by itself costs a round trip there, at the two points it matters.
  const ordered = async (writes: Array<Promise<unknown>>) => {
    if (isCluster(redis)) await Promise.all(writes.splice(0));
  };
  const commands = packed.commandsFor(redis);
  // 1. A crashed run's schools into the index; then this run's, listed in "next" before
  //    any key is written; then the entries. On one server nothing waits.
  const writes: Array<Promise<unknown>> = [redis.sunionstore(current, current, next), redis.unlink(next), addToSet(redis, next, schools)];
  await ordered(writes);
  writes.push(setPackedWithTtl(commands, ttl));
  // If the job stops for good, what a crashed run left expires with the entries.
  if (schools.length > 0) writes.push(redis.expire(next, ttl));
  // The schools notified last time that no longer qualify: runs after the SADDs above.
  const staleReply = schools.length > 0 ? redis.sdiff(current, next) : redis.smembers(current);
  staleReply.catch(() => undefined);
  const log = options.log ?? silentLogger;
  let stepStarted = performance.now();
  const step = (name: string) => {
    log.debug(`redis ${name}`, { ms: Math.round(performance.now() - stepStarted) });
    stepStarted = performance.now();
  };
  await Promise.all(writes);
  const stale = await staleReply;
  step(`wrote ${schools.length} entries in ${commands.length} commands; ${stale.length} entries to remove`);
  await options.hooks?.beforeRemoval?.();

  // 2. Remove their entries, then make this run's set the index, then take the journal
  //    and let go of the lock, in that order: the journal is read after every write of
  //    this run. The index lives no longer than the entries: if the job stops, both
  //    disappear.
  const finals: Array<Promise<unknown>> = [unlinkMany(redis, stale.map((school) => notificationKey(options.notificationPrefix, school)))];
  await ordered(finals);
  finals.push(...(schools.length > 0 ? [redis.rename(next, current), redis.expire(current, ttl)] : [redis.unlink(current)]));
  const finishing = finishRun(redis, current, token, ttl);
  finals.push(finishing);
  await Promise.all(finals);
  const replay = await finishing;
  step('removed them, swapped the index and released the lock');

  // 3. Only when notify-invalid wrote while this run held the lock: its merges again, over
  //    whatever this run's older snapshot wrote or removed.
  if (replay.length > 0) {
    await mergePupils(redis, replay, { ...options, now, log });
    log.info(`replayed the notify-invalid writes of ${replay.length} schools made while this run was in progress`);
  }
  return stale.length;
}
