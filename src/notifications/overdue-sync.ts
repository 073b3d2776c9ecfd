/**
 * The periodic job of the notifications design: recompute every school's notification
 * from SQL and rewrite Redis, removing the entries of schools that no longer qualify.
 *
 * The Redis pass is two round trips whatever the number of schools:
 *   1. fold any "next" set a crashed run left into "current" (the index of the last run);
 *      then for each chunk of schools: SADD into "next", and SET all of them with their TTL
 *      in one script call; then SDIFF current next: the schools notified last time that
 *      no longer qualify, read from the index, without KEYS and without reading any
 *      notification. All of it sent without waiting: one connection runs it in order;
 *   2. UNLINK those entries, RENAME next to current, release the run lock.
 * A school enters "next" before its key is written, and "next" is folded into "current"
 * by the following run, so a run that dies half-way leaves every key it wrote known to
 * the next one, which removes whatever should go. The run lock makes the fixed name of
 * "next" safe. Keys are only ever written or removed under the notification prefix; the
 * index, "next" and the lock share one {hash tag}.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { type RedisClient, isCluster } from '../redis/redis.js';
import { PackedEntries, addToSet, loadWriterScripts, setPackedWithTtl, unlinkMany } from '../redis/redis-writer.js';
import { LuaScript } from '../redis/script.js';
import { notificationJson, notificationKey } from './notification.js';
import { schoolConcerns } from './school-concerns.js';

export interface OverdueSyncOptions {
  overdueAfterMinutes: number;
  notificationTtlSeconds: number;
  notificationPrefix: string;
  notificationIndexKey: string;
  dryRun?: boolean;
  /** The run's clock (tests pin it). */
  now?: Date;
  log?: Logger;
  /** Called with the number of schools read so far, now and then (progress). */
  onSchools?: (count: number) => void;
}

export interface OverdueSyncResult {
  /** Schools with a notification. */
  schools: number;
  overdueChecks: number;
  processingErrors: number;
  /** Entries of schools that qualified in the last run and no longer do. */
  removed: number;
  timings: { sqlMs: number; redisMs: number };
  /** Set when another run held the lock and this one did nothing. */
  skipped?: string;
  /** Dry run only: what would be written and removed. */
  wouldWrite?: Array<{ key: string; value: string }>;
  wouldRemove?: string[];
}

/** How long a run may hold the lock before another may assume it died. */
const lockMs = 10 * 60_000;

const releaseLockScript = new LuaScript(
  'release-lock',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

export function lockKeyOf(indexKey: string): string {
  return `${indexKey}:lock`;
}

/**
 * One pass. `redisClient` may still be connecting: the query does not wait for it, so a
 * distant Redis's connection handshakes happen while the database works.
 */
export async function overdueSync(db: Database, redisClient: RedisClient | Promise<RedisClient>, options: OverdueSyncOptions): Promise<OverdueSyncResult> {
  const connecting = Promise.resolve(redisClient);
  const log = options.log ?? silentLogger;
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.overdueAfterMinutes * 60_000);
  const current = options.notificationIndexKey;
  const lock = lockKeyOf(current);
  const token = randomUUID();

  // The lock is taken, and the scripts loaded, while the query runs: a round trip saved,
  // and a run that finds another one active still ends without writing anything.
  const locking: Promise<string | null> = options.dryRun ? Promise.resolve('OK') : connecting.then((r) => r.set(lock, token, 'PX', lockMs, 'NX'));
  const loading = options.dryRun
    ? Promise.resolve()
    : connecting.then((r) => Promise.all([loadWriterScripts(r), releaseLockScript.load(r)])).then(() => undefined);
  locking.catch(() => undefined);
  loading.catch(() => undefined);
  let unlocked = false;
  const release = async () => {
    if (unlocked || options.dryRun) return;
    unlocked = true;
    await releaseLockScript.run(await connecting, 1, [lock, token]).catch((err: unknown) => log.warn('could not release the overdue-sync lock; it expires by itself', { error: String(err) }));
  };

  // SQL: every school's notification, packed for Redis while the rows arrive. Dry runs
  // keep the entries themselves to show them.
  const sqlStarted = performance.now();
  const packed = new PackedEntries();
  const entries: Array<[string, string]> = [];
  const schools: string[] = [];
  let overdueChecks = 0;
  let processingErrors = 0;
  try {
    for await (const concern of schoolConcerns(db, cutoff)) {
      const value = notificationJson(concern.schoolUuid, now, concern.processingErrorPupils, concern.overdueChecks);
      if (value === null) {
        log.warn(`school ${concern.schoolUuid}: an id of its pupils or checks is not a UUID; its notification is left out`);
        continue;
      }
      const key = notificationKey(options.notificationPrefix, concern.schoolUuid);
      if (options.dryRun) entries.push([key, value]);
      else packed.add(key, value);
      schools.push(concern.schoolUuid);
      overdueChecks += concern.overdueCount;
      processingErrors += concern.processingErrorCount;
      if (schools.length % 5_000 === 0) options.onSchools?.(schools.length);
    }
  } catch (err) {
    if ((await locking.catch(() => null)) === 'OK') await release();
    throw err;
  }
  options.onSchools?.(schools.length);
  const sqlMs = Math.round(performance.now() - sqlStarted);
  const counts = { schools: schools.length, overdueChecks, processingErrors };
  log.debug(`read ${schools.length} schools to notify`, { sqlMs, cutoff: cutoff.toISOString() });

  const redis = await connecting;
  if (options.dryRun) {
    const redisStarted = performance.now();
    const previous = await redis.smembers(current);
    const qualifying = new Set(schools);
    const wouldRemove = previous.filter((school) => !qualifying.has(school)).map((school) => notificationKey(options.notificationPrefix, school));
    const redisMs = Math.round(performance.now() - redisStarted);
    return { ...counts, removed: wouldRemove.length, timings: { sqlMs, redisMs }, wouldWrite: entries.map(([key, value]) => ({ key, value })), wouldRemove };
  }

  if ((await locking) !== 'OK') {
    const holder = await redis.pttl(lock);
    return { ...counts, removed: 0, timings: { sqlMs, redisMs: 0 }, skipped: `another overdue-sync holds ${lock} (for ${Math.round(holder / 1000)} s more); nothing written` };
  }
  const redisStarted = performance.now();
  let removed: number;
  try {
    await loading;
    removed = await rewrite(redis, current, `${current}:next`, packed, schools, options, release);
  } finally {
    await release();
  }
  const redisMs = Math.round(performance.now() - redisStarted);
  return { ...counts, removed, timings: { sqlMs, redisMs } };
}

async function rewrite(
  redis: RedisClient,
  current: string,
  next: string,
  packed: PackedEntries,
  schools: readonly string[],
  options: OverdueSyncOptions,
  release: () => Promise<void>,
): Promise<number> {
  const ttl = options.notificationTtlSeconds;
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

  // 2. Remove their entries, then make this run's set the index, then let go of the lock,
  //    in that order. The index lives no longer than the entries: if the job stops,
  //    both disappear.
  const finals: Array<Promise<unknown>> = [unlinkMany(redis, stale.map((school) => notificationKey(options.notificationPrefix, school)))];
  await ordered(finals);
  finals.push(...(schools.length > 0 ? [redis.rename(next, current), redis.expire(current, ttl)] : [redis.unlink(current)]), release());
  await Promise.all(finals);
  step('removed them and swapped the index');
  return stale.length;
}
