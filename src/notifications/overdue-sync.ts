/**
 * The periodic job of the notifications design: recompute every school's notification
 * from SQL and rewrite Redis, removing the entries of schools that no longer qualify.
 *
 * The run lock is taken before the query starts, while the database opens (see
 * sync-journal.ts for why notify-invalid needs it held from before the snapshot), and
 * renewed every third of its lifetime while the run is alive.
 *
 * On one Redis server the pass is one transaction sent on a second connection while the
 * rows arrive, with the same steps as below in the same order, fenced by WATCH on the lock;
 * after the last row only EXEC is left (streamed-pass.ts). When that connection or the
 * transaction is refused, or EXEC finds the lock touched while it is still this run's
 * (its own renewal), nothing was written and the pass below runs instead. On a Redis
 * Cluster it always does. That pass is two round trips whatever the number of schools:
 *   1. one script folds any "next" set a crashed run left into "current" (the index of the
 *      last run), lists this run's schools in a fresh "next" and returns SDIFF current next:
 *      the schools notified last time that no longer qualify, read from the index, without
 *      KEYS and without reading any notification; then, for each chunk of schools, one
 *      script SETs all of them with their TTL. All sent without waiting: one connection
 *      runs it in order;
 *   2. one script UNLINKs those entries, RENAMEs next to current, takes the journal of
 *      notify-invalid writes made meanwhile (their schools join the index) and releases
 *      the lock. Only when the journal held something, a third round trip replays them.
 * A school enters "next" before its key is written, and "next" is folded into "current"
 * by the following run, so a run that dies half-way leaves every key it wrote known to
 * the next one, which removes whatever should go. The run lock makes the fixed name of
 * "next" safe.
 *
 * Fencing. The transaction runs only if the lock held this run's token when WATCH began
 * and was not touched until EXEC; every script of the other pass first checks that the
 * lock still holds this run's token, and does nothing otherwise: a run paused longer than
 * the lock's lifetime (while another run started and finished) writes and removes nothing
 * once it comes back, and
 * exits 1 (LockLostError). Whatever it had written before its pause came before the other
 * run's pass, which rewrote every entry and removed those that no longer qualify, so on
 * one server the keys are exactly the other run's. In a Redis Cluster the entries live on
 * other nodes than the lock: the entry writes and removals are instead preceded by a step
 * that proves the lock still this run's (a run paused exactly between the two can still
 * write an older snapshot's entries, which the next run repairs).
 *
 * Keys are only ever written or removed under the notification prefix; the index,
 * "next", the lock and the journal share one {hash tag}.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { type RedisClient, isCluster } from '../redis/redis.js';
import { RedisReplyError } from '../redis/raw-connection.js';
import { StreamedPass } from './streamed-pass.js';
import { ConfigError, ExitCode, MtcError, errorMessage } from '../errors.js';
import { PackedEntries, loadWriterScripts, setPackedWithTtl, unlinkMany } from '../redis/redis-writer.js';
import { type PupilMerge, mergePupils } from './merge-pupils.js';
import { type NotificationFormat, notificationBuilder, notificationKey } from './notification.js';
import { schoolConcerns } from './school-concerns.js';
import { LockLostError, abandonRun, beginRun, bookkeepingTypes, finishRun, loadSyncScripts, lockKeyOf, lockRefusal, nextKeyOf, renewLock, takeLock, wrongTypeRefusal } from './sync-journal.js';

/** The run lock's lifetime when the caller gives none (the setting's default). */
export const defaultLockSeconds = 60;

/** A stop signal (SIGTERM, SIGINT) arrived before the Redis pass began: nothing was written. */
export class SyncInterruptedError extends MtcError {
  constructor(reason: unknown) {
    super(
      `overdue-sync interrupted (${errorMessage(reason)}) before writing anything: lock released, no entry written or removed; the next run does the whole work`,
      ExitCode.failure,
      'interrupted',
    );
  }
}

export interface OverdueSyncOptions {
  overdueAfterMinutes: number;
  notificationTtlSeconds: number;
  notificationPrefix: string;
  notificationIndexKey: string;
  notificationFormat: NotificationFormat;
  /** The run lock's lifetime (default 60 s), renewed every third of it while the run is alive. */
  overdueSyncLockSeconds?: number;
  dryRun?: boolean;
  /**
   * A stop request: honoured while the query runs and before the Redis pass (the run lets
   * go of its lock and writes nothing); a pass already started finishes (two round trips).
   */
  signal?: AbortSignal;
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
  /** Dry run only: set when another run holds the lock (a run started now would do nothing). */
  lockHeld?: string;
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
  const lockSeconds = options.overdueSyncLockSeconds ?? defaultLockSeconds;
  const lockMs = lockSeconds * 1000;
  const [opened, locked] = await Promise.allSettled([
    Promise.resolve(db),
    connecting.then(async (redis) => ({ redis, held: await takeLock(redis, index, token, lockMs) })),
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
    const left = await lockLeftMs(redis, lock);
    return {
      schools: 0, overdueChecks: 0, processingErrors: 0, removed: 0, timings: { sqlMs: 0, redisMs: 0 },
      skipped: `${heldBy(lock, left)}; nothing read or written`,
    };
  }

  log.debug(`took the run lock ${lock} for ${lockSeconds} s`);
  // The lock is renewed every third of its lifetime while this process runs: only a run
  // that stops (killed, paused, starved) loses it. One that comes back after losing it
  // finds out here or, at the latest, from the server: every step of the pass checks the
  // lock in the script that does it.
  let lost = false;
  const renewal = setInterval(() => {
    renewLock(redis, index, token, lockMs).then(
      (still) => {
        if (!still) lost = true;
      },
      (err: unknown) => log.debug('could not renew the overdue-sync lock (the pass reports a lasting failure)', { error: errorMessage(err) }),
    );
  }, Math.max(50, Math.floor(lockMs / 3)));
  const lockLost = () => new LockLostError(lock, lockSeconds);

  // Scripts load while the query runs, so a pass's commands are never reordered by a
  // first-use NOSCRIPT retry. Awaited before the pass, where a failure is reported.
  const loading = Promise.all([loadWriterScripts(redis), loadSyncScripts(redis)]);
  loading.catch(() => undefined);
  // On one server the pass is a transaction streamed while the query runs (streamed-pass.ts);
  // in a cluster the entries are packed for the scripts, node by node.
  const streamed = isCluster(redis)
    ? null
    : new StreamedPass(redis, { indexKey: index, prefix: options.notificationPrefix, token, ttlSeconds: options.notificationTtlSeconds, lockMs, connectTimeoutMs: 5_000 });
  const packed = streamed ? null : new PackedEntries(true);
  try {
    const read = await readConcerns(opened.value, now, options, (school, key, value) => (streamed ? streamed.add(school, key, value) : packed!.add(key, value))).catch((err: unknown) => {
      // The query cancelled by a stop request fails with the server's "canceling statement".
      throw options.signal?.aborted ? new SyncInterruptedError(options.signal.reason) : err;
    });
    await options.hooks?.afterQuery?.();
    await loading;
    // A signal that came while the process was held (SQLite runs the query in it) is
    // delivered on the event loop's next turn: taken before the pass, not after it.
    await new Promise((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) throw new SyncInterruptedError(options.signal.reason);
    if (lost) throw lockLost();
    const redisStarted = performance.now();
    let removed: number | undefined;
    let entries = packed;
    let hooks = options.hooks;
    if (streamed) {
      const outcome = await streamed.commit(read.schools.length, lockLost, options.hooks?.beforeRemoval);
      if (outcome.done) {
        removed = outcome.removed;
        // The lines the scripts' pass logs, in the order its steps happened.
        log.debug(`redis wrote ${read.schools.length} entries in one transaction sent during the query; ${removed} entries to remove`, { ms: Math.round(performance.now() - redisStarted) });
        log.debug('redis removed them, swapped the index and released the lock (the same transaction)');
        await replayJournal(redis, outcome.replay, now, options);
      } else {
        // Nothing was written: the same pass through the scripts.
        if (outcome.lockTouched && (await redis.get(lock)) !== token) throw lockLost();
        const message = `writing the entries through Lua scripts instead of one transaction: ${outcome.reason}`;
        if (outcome.refused) log.warn(`${message} (a Redis ACL needs +watch +multi +exec for the transaction)`);
        else log.debug(message);
        entries = streamed.packedEntries();
        // The transaction's commit was the point the hooks stand for.
        hooks = {};
      }
    }
    removed ??= await rewrite(redis, entries!, read.schools, now, { token, lockMs, lockLost }, { ...options, hooks });
    const { sqlMs } = read;
    return { schools: read.schools.length, overdueChecks: read.overdueChecks, processingErrors: read.processingErrors, removed, timings: { sqlMs, redisMs: Math.round(performance.now() - redisStarted) } };
  } catch (err) {
    // A run that lost its lock has nothing to let go of, and must touch nothing more.
    if (!(err instanceof LockLostError)) await abandon(redis);
    throw err;
  } finally {
    streamed?.close();
    clearInterval(renewal);
  }
}

/** SQL: every school's notification, handed to `onEntry` while the rows arrive. */
async function readConcerns(db: Database, now: Date, options: OverdueSyncOptions, onEntry: (school: string, key: string, value: string) => void): Promise<Concerns> {
  const log = options.log ?? silentLogger;
  const cutoff = new Date(now.getTime() - options.overdueAfterMinutes * 60_000);
  const started = performance.now();
  const read: Concerns = { schools: [], overdueChecks: 0, processingErrors: 0, sqlMs: 0 };
  // Ids are checked where the database keeps UUIDs as text (SQLite): a UUID type cannot
  // hold anything else.
  const stored = notificationBuilder(now, options.notificationFormat, db.dialect.uuidTextCollation !== undefined);
  let reported = 0;
  for await (const batch of schoolConcerns(db, cutoff, options.signal)) {
    // Stopping here drops the rest of the rows (the query is cancelled where the dialect can).
    if (options.signal?.aborted) break;
    for (const concern of batch) {
      const value = stored(concern.schoolUuid, concern.processingErrorPupils, concern.overdueChecks);
      if (value === null) {
        log.warn(`school ${concern.schoolUuid}: an id of its pupils or checks is not a UUID; its notification is left out`);
        continue;
      }
      onEntry(concern.schoolUuid, notificationKey(options.notificationPrefix, concern.schoolUuid), value);
      read.schools.push(concern.schoolUuid);
      read.overdueChecks += concern.overdueCount;
      read.processingErrors += concern.processingErrorCount;
    }
    if (read.schools.length - reported >= 5_000) {
      reported = read.schools.length;
      options.onSchools?.(reported);
    }
  }
  options.onSchools?.(read.schools.length);
  read.sqlMs = Math.round(performance.now() - started);
  log.debug(`read ${read.schools.length} schools to notify`, { sqlMs: read.sqlMs, cutoff: cutoff.toISOString() });
  return read;
}

/**
 * The schools a run would find notified, read without writing: the index and a crashed
 * run's "next" (which a run folds into the index before it begins). A bookkeeping key of
 * another type is refused as a run refuses it (the same WRONGTYPE error), so a dry run
 * never promises what the run will not do.
 */
async function notifiedSchools(redis: RedisClient, indexKey: string): Promise<string[]> {
  const typed = bookkeepingTypes(indexKey);
  const refusal = wrongTypeRefusal(typed, await Promise.all(typed.map(([key]) => redis.type(key))));
  if (refusal !== null) throw new RedisReplyError(refusal);
  const [index, next] = await Promise.all([redis.smembers(indexKey), redis.smembers(nextKeyOf(indexKey))]);
  return [...new Set([...index, ...next])];
}

/**
 * What is left of the lock's lifetime (ms; -2 when there is no lock). Every lock a run
 * takes is a string that expires: a key without a lifetime, or of another type, was not
 * written by overdue-sync, and waiting for it would skip every run from now on (or until
 * it expires, and another program writes it again): lockRefusal's ConfigError.
 */
async function lockLeftMs(redis: RedisClient, lock: string): Promise<number> {
  const [type, left] = await Promise.all([redis.type(lock), redis.pttl(lock)]);
  const refusal = lockRefusal(lock, type, left);
  if (refusal !== null) throw new ConfigError(refusal);
  return left;
}

/** Another run's lock, as a skipped run and a dry run both say it. */
function heldBy(lock: string, leftMs: number): string {
  return `another overdue-sync holds ${lock} (for ${Math.ceil(leftMs / 1000)} s more)`;
}

async function dryRun(db: Database, redis: RedisClient, now: Date, options: OverdueSyncOptions): Promise<OverdueSyncResult> {
  // A lock no run wrote is refused before the query, as the run refuses it before its own
  // (the same ConfigError): a dry run never promises writes the run will not make. A run's
  // lock is fine: that run ends, and the next one writes what this one reports; the dry
  // run says so, as a run started now would do nothing.
  const lock = lockKeyOf(options.notificationIndexKey);
  const left = await lockLeftMs(redis, lock);
  const lockHeld = left > 0 ? `${heldBy(lock, left)}: a run started now would do nothing; this is what the next one would write` : undefined;
  const entries: Array<{ key: string; value: string }> = [];
  const read = await readConcerns(db, now, options, (_school, key, value) => entries.push({ key, value }));
  const redisStarted = performance.now();
  const previous = await notifiedSchools(redis, options.notificationIndexKey);
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
    ...(lockHeld ? { lockHeld } : {}),
  };
}

interface RunLock {
  token: string;
  lockMs: number;
  lockLost: () => LockLostError;
}

/**
 * The Redis pass (see the top of this file). Returns how many entries it removed. Throws
 * LockLostError, having written nothing more, when a step finds the lock no longer this run's.
 */
async function rewrite(redis: RedisClient, packed: PackedEntries, schools: readonly string[], now: Date, lock: RunLock, options: OverdueSyncOptions): Promise<number> {
  const ttl = options.notificationTtlSeconds;
  const index = options.notificationIndexKey;
  // On one server every step is fenced in the script that does it. In a cluster the
  // entries live on other nodes than the lock: each step that touches them is preceded by
  // one that proves the lock still this run's (a round trip there, which also keeps the
  // order the single connection keeps by itself).
  const single = !isCluster(redis);
  const commands = packed.commandsFor(redis);
  const log = options.log ?? silentLogger;
  let stepStarted = performance.now();
  const step = (name: string) => {
    log.debug(`redis ${name}`, { ms: Math.round(performance.now() - stepStarted) });
    stepStarted = performance.now();
  };

  // 1. A crashed run's schools into the index, this run's listed in "next" before any key
  //    is written, the schools to remove; then the entries. On one server nothing waits.
  const beginning = beginRun(redis, index, lock.token, ttl, lock.lockMs, schools);
  beginning.catch(() => undefined);
  if (!single && (await beginning) === null) throw lock.lockLost();
  const writing = setPackedWithTtl(commands, ttl, single ? { key: lockKeyOf(index), token: lock.token } : undefined);
  const [stale, wrote] = await Promise.all([beginning, writing]);
  if (stale === null || !wrote) throw lock.lockLost();
  step(`wrote ${schools.length} entries in ${commands.length} commands; ${stale.length} entries to remove`);
  await options.hooks?.beforeRemoval?.();

  // 2. Remove their entries, make this run's set the index, take the journal and let go of
  //    the lock: on one server one script, which does nothing unless the lock is still
  //    this run's. The journal is read after every write of this run.
  const staleKeys = stale.map((school) => notificationKey(options.notificationPrefix, school));
  if (!single) {
    if (!(await renewLock(redis, index, lock.token, lock.lockMs))) throw lock.lockLost();
    await unlinkMany(redis, staleKeys);
  }
  const replay = await finishRun(redis, index, lock.token, ttl, schools.length > 0, single ? staleKeys : []);
  if (replay === null) throw lock.lockLost();
  step('removed them, swapped the index and released the lock');

  // 3. Only when notify-invalid wrote while this run held the lock: its merges again.
  await replayJournal(redis, replay, now, options);
  return stale.length;
}

/**
 * The merges notify-invalid journaled while this run held the lock, made again over
 * whatever this run's older snapshot wrote or removed. Nothing when the journal was empty.
 */
async function replayJournal(redis: RedisClient, replay: readonly PupilMerge[], now: Date, options: OverdueSyncOptions): Promise<void> {
  if (replay.length === 0) return;
  const log = options.log ?? silentLogger;
  await mergePupils(redis, replay, { ...options, now, log });
  log.info(`replayed the notify-invalid writes of ${replay.length} schools made while this run was in progress`);
}
