/**
 * The keys overdue-sync and notify-invalid share besides the entries, all under the
 * index key's {hash tag} (one Redis Cluster slot, so one script may touch them all):
 *
 *   <index>          set: the schools that have an entry
 *   <index>:next     set: the schools of the overdue-sync run in progress
 *   <index>:lock     string: the running overdue-sync's token
 *   <index>:journal  list: notify-invalid's writes made while a run holds the lock
 *   <index>:last-run string: when the last successful run ended (status reads its age)
 *
 * Why a journal. A run rewrites every entry from its query's snapshot, then removes the
 * entries of listed schools its snapshot did not see. A notify-invalid whose check was
 * marked after that snapshot would have its pupil overwritten by the run's SET, or its
 * whole entry removed as stale. So notify-invalid, after its SQL update has committed and
 * before it writes any entry, lists its schools in the index and, if a run holds the
 * lock, appends its merges to the journal: one script. The run takes its lock before its
 * query starts; after its removals it reads and clears the journal, adds the journaled
 * schools to the index and lets go of the lock, in one script, and then replays the
 * journaled merges. A merge the run may have overwritten was journaled before it was
 * written, so before the run's writes, so before the run read the journal; a
 * notify-invalid that finds no lock either ran before the lock (the query, which starts
 * later, sees its check) or after the run's last write (nothing can overwrite it).
 */
import { ConfigError, ExitCode, MtcError } from '../errors.js';
import type { RedisClient } from '../redis/redis.js';
import { LuaScript } from '../redis/script.js';
import type { PupilMerge } from './merge-pupils.js';

export const nextKeyOf = (indexKey: string) => `${indexKey}:next`;
export const lockKeyOf = (indexKey: string) => `${indexKey}:lock`;
export const journalKeyOf = (indexKey: string) => `${indexKey}:journal`;

export const lastRunKeyOf = (indexKey: string) => `${indexKey}:last-run`;

/** The longest lock a run takes: overdueSyncLockSeconds is at most 86,400. */
const maxLockMs = 86_400_000;

/**
 * Why no overdue-sync can take its lock while `<index>:lock` holds what TYPE and PTTL
 * found there (`pttlMs` -1: no lifetime), or null when a run can (no key, or a string with
 * a lifetime: a run's lock, which it lets go of or which expires). Every run takes its lock
 * with SET NX PX, so a value without a lifetime, one living longer than any run's lock,
 * or one of another type is another program's (or an operator's): waiting for it would
 * skip every run from now on. overdue-sync (the run and --dry-run) and notify-invalid
 * refuse it, and status reports it, in these words.
 */
export function lockRefusal(lock: string, type: string, pttlMs: number): string | null {
  if (type === 'none') return null;
  const fix = 'delete that key if nothing else uses it, or give mtc-batch its own MTC_BATCH_NOTIFICATION_INDEX_KEY';
  if (pttlMs === -1) {
    const what = type === 'string' ? 'a value' : `a ${type}`;
    return `the key ${lock} holds ${what} without a lifetime, which overdue-sync never writes, so no run could ever take its lock: ${fix}`;
  }
  if (pttlMs > maxLockMs) {
    return `the key ${lock} holds a value with a lifetime longer than any run gives its lock (at most ${maxLockMs / 1000} s), so it is not a run's lock: ${fix}`;
  }
  if (type !== 'string') {
    return `the key ${lock} holds a ${type}, which overdue-sync never writes (its lock is a string with a lifetime), so no run can take its lock while it is there: ${fix}`;
  }
  return null;
}

/**
 * A run whose lock expired or was taken over (it was paused or starved longer than the
 * lock's lifetime, and another run may have started since): it writes and removes nothing
 * more, and exits 1. Whatever it wrote before that was earlier than any later run's writes,
 * which rewrite every entry and remove those that no longer qualify.
 */
export class LockLostError extends MtcError {
  constructor(lock: string, lockSeconds: number) {
    super(
      `overdue-sync lost its lock ${lock}: it is gone or another run's (not renewed within its ${lockSeconds} s lifetime because the ` +
        'process was paused or starved, a SQLite query held it longer than that, or Redis lost it in a restart; raise overdueSyncLockSeconds ' +
        'above the query\'s time if it was the query); it stopped without writing or removing anything more, ' +
        'and the next run repairs whatever it wrote before',
      ExitCode.failure,
      'lock-lost',
      { details: { lock, lockSeconds } },
    );
  }
}

/**
 * The lifetime each successful run gives `<index>:last-run`: its age is this minus what is
 * left (no clocks compared between machines). Gone after a week without a run.
 */
export const lastRunKeepSeconds = 7 * 86_400;

/**
 * The Redis type each bookkeeping key holds when it exists. A key of another type is
 * another program's (or a misconfiguration): a run refuses it before writing anything,
 * rather than fail half-way or replace it (SET replaces a value of any type, and
 * `<index>:last-run` is SET at the end of every successful run). The transaction checks
 * them with TYPE before MULTI (streamed-pass.ts), the scripts' pass in its first script;
 * both refuse with the same words (wrongTypeRefusal).
 */
const kinds = { index: 'set', next: 'set', journal: 'list', lastRun: 'string' } as const;

export function bookkeepingTypes(indexKey: string): Array<[key: string, type: string]> {
  return [[indexKey, kinds.index], [nextKeyOf(indexKey), kinds.next], [journalKeyOf(indexKey), kinds.journal], [lastRunKeyOf(indexKey), kinds.lastRun]];
}

/**
 * Lua that refuses, before anything is written, a key holding another type than its own:
 * `typed` pairs a Lua expression for the key with the type it should hold. `onClash` runs
 * first (a script's own undoing); then the script answers the WRONGTYPE error of
 * wrongTypeRefusal, naming the key (Redis's own WRONGTYPE names none).
 */
function refuseWrongTypes(typed: ReadonlyArray<[key: string, kind: string]>, onClash = ''): string {
  return `for _, typed in ipairs({${typed.map(([key, kind]) => `{${key}, '${kind}'}`).join(', ')}}) do
  local key, kind = typed[1], typed[2]
  local found = redis.call('TYPE', key).ok
  if found ~= 'none' and found ~= kind then
    ${onClash}return redis.error_reply('WRONGTYPE the key ' .. key .. ' holds a ' .. found .. ', not a ' .. kind)
  end
end
`;
}

/**
 * KEYS: index, lock, journal; ARGV: TTL seconds, then one record per school ("<school>
 * <pupil> <pupil>…"). The index lives as long as the entries it lists; the journal as long
 * as the lock that makes it useful. Before anything is written: a lock no run can have
 * written (lockRefusal: no lifetime, or another type) is answered with its type and PTTL,
 * as no run would ever replay a journal kept for it (the caller refuses in lockRefusal's
 * words); an index or journal of another type is refused naming the key (Redis's own
 * WRONGTYPE names none), in wrongTypeRefusal's words.
 */
const recordScript = new LuaScript(
  'record-notified-schools',
  `local index, lock, journal = KEYS[1], KEYS[2], KEYS[3]
local lockType, held = redis.call('TYPE', lock).ok, redis.call('PTTL', lock)
if lockType ~= 'none' and (lockType ~= 'string' or held == -1 or held > ${maxLockMs}) then return {lockType, held} end
${refuseWrongTypes([['index', kinds.index], ['journal', kinds.journal]])}for i = 2, #ARGV do redis.call('SADD', index, string.match(ARGV[i], '^%S+')) end
redis.call('EXPIRE', index, ARGV[1])
if held == -2 then return 0 end
for i = 2, #ARGV do redis.call('RPUSH', journal, ARGV[i]) end
redis.call('PEXPIRE', journal, held)
return #ARGV - 1`,
);

/**
 * The refusal of the first bookkeeping key whose type (`found`, TYPE's answers in the
 * order of bookkeepingTypes) is another than it should be, or null when none: a WRONGTYPE
 * message, as Redis's own (the CLI makes it exit 2).
 */
export function wrongTypeRefusal(typed: ReadonlyArray<[key: string, type: string]>, found: readonly unknown[]): string | null {
  const clash = typed.findIndex(([, kind], i) => found[i] !== 'none' && found[i] !== kind);
  if (clash < 0) return null;
  const [key, kind] = typed[clash]!;
  return `WRONGTYPE the key ${key} holds a ${String(found[clash])}, not a ${kind}`;
}

// The start of both ways a run begins (KEYS: index, next, lock; ARGV: token, TTL seconds,
// the lock's lifetime in ms): nothing (nil) unless the lock is this run's.
const ownLock = `local index, nxt, lock = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', lock) ~= ARGV[1] then return false end
`;

// Then: renews the lock and folds a crashed run's "next" into the index, leaving "next"
// empty. (Only when there is one: SUNIONSTORE rebuilds the whole index, ~5 ms for 16,500
// schools.)
const foldNext = `redis.call('PEXPIRE', lock, ARGV[3])
if redis.call('SCARD', nxt) > 0 then
  redis.call('SUNIONSTORE', index, index, nxt)
  redis.call('DEL', nxt)
end
redis.call('EXPIRE', index, ARGV[2])
`;

/**
 * The run's first step, once its query has read every school. KEYS: index, next, lock,
 * journal, last-run; ARGV: the run's token, TTL seconds, the lock's lifetime in ms, then
 * the schools. Only while the lock is still this run's (else nil, and nothing done).
 * A bookkeeping key of another type is refused before anything is touched (the
 * WRONGTYPE error of wrongTypeRefusal), and the lock let go of (the journal dropped, as
 * abandonScript does), so the run's entry writes, sent behind this script on one server
 * and fenced by the lock, write nothing either. Otherwise renews the lock, folds a
 * crashed run's "next" into the index, lists this run's schools in a fresh "next", and
 * returns the schools of the index that are not in it (the entries to remove).
 */
const beginScript = new LuaScript(
  'begin-overdue-sync',
  `${ownLock}${refuseWrongTypes(
    [['KEYS[1]', kinds.index], ['KEYS[2]', kinds.next], ['KEYS[4]', kinds.journal], ['KEYS[5]', kinds.lastRun]],
    `redis.call('DEL', lock)
    if redis.call('TYPE', KEYS[4]).ok == 'list' then redis.call('DEL', KEYS[4]) end
    `,
  )}${foldNext}if #ARGV < 4 then return redis.call('SMEMBERS', index) end
for i = 4, #ARGV, 1000 do redis.call('SADD', nxt, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('EXPIRE', nxt, ARGV[2])
return redis.call('SDIFF', index, nxt)`,
);

/**
 * The first command of a run's transaction (streamed-pass.ts), whose later commands list
 * the schools in "next" themselves: only the fold. Returns 1, or nil when the lock is not
 * this run's.
 */
export const foldScript = new LuaScript('fold-overdue-sync', `${ownLock}${foldNext}return 1`);

/**
 * KEYS: lock, journal; ARGV: the run's token, the lock's lifetime in ms. While the lock is
 * this run's, extends it and the journal (which must live as long as the lock it serves);
 * returns 1, or 0 when the lock is gone or another run's.
 */
const renewScript = new LuaScript(
  'renew-overdue-sync-lock',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('TYPE', KEYS[2]).ok == 'list' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1`,
);

// A journal record's school as notify-invalid writes it (a lower-case UUID): anything else
// in the journal (another program's item) is not listed in the index, as the replay of
// its pupils leaves its notification unchanged.
const hex = (n: number) => '[0-9a-f]'.repeat(n);
const schoolIdPattern = `^${hex(8)}%-${hex(4)}%-${hex(4)}%-${hex(4)}%-${hex(12)}$`;

/**
 * The run's last step. KEYS: lock, journal, index, last-run, next; ARGV: the run's token,
 * TTL seconds, the time, last-run's lifetime, "1" when the run notified any school, then
 * either the notification prefix (the entries to remove are the index's schools not in
 * "next", found here: a transaction's last command) or "" and the entries to remove (one
 * server only: in a cluster they live on other nodes, and are removed just before, after a
 * renewal proved the lock still this run's). Only while the lock is still this run's (else
 * nil, and nothing done): removes those entries, makes "next" the index, records the run's
 * time (every successful run, one that notified nobody too), takes the journal (its
 * schools join the index) and lets go of the lock. Returns how many entries it was to
 * remove, then the journal's records.
 */
export const finishScript = new LuaScript(
  'finish-overdue-sync',
  `local lock, journal, index, lastRun, nxt = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('GET', lock) ~= ARGV[1] then return false end
local removed = #ARGV - 6
if ARGV[6] ~= '' then
  local stale = redis.call('SDIFF', index, nxt)
  for _, school in ipairs(stale) do redis.call('UNLINK', ARGV[6] .. school) end
  removed = #stale
else
  for i = 7, #ARGV do redis.call('UNLINK', ARGV[i]) end
end
if ARGV[5] == '1' and redis.call('PTTL', nxt) ~= -2 then
  redis.call('RENAME', nxt, index)
  redis.call('EXPIRE', index, ARGV[2])
else
  redis.call('UNLINK', index, nxt)
end
redis.call('SET', lastRun, ARGV[3], 'EX', ARGV[4])
local records = redis.call('LRANGE', journal, 0, -1)
if #records > 0 then
  redis.call('DEL', journal)
  for _, r in ipairs(records) do
    local school = string.match(r, '^%S+')
    if school and string.match(school, '${schoolIdPattern}') then redis.call('SADD', index, school) end
  end
  redis.call('EXPIRE', index, ARGV[2])
end
redis.call('DEL', lock)
table.insert(records, 1, removed)
return records`,
);

/**
 * KEYS: lock, journal; ARGV: the run's token. A run that fails lets go of its lock and
 * drops its journal: the next run's query sees every check the journal names. (A key of
 * that name that is not a list is not a journal: another program's, left alone.)
 */
const abandonScript = new LuaScript(
  'abandon-overdue-sync',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('TYPE', KEYS[2]).ok == 'list' then redis.call('DEL', KEYS[2]) end
return 1`,
);

function record({ school, pupils }: PupilMerge): string {
  return [school, ...pupils].join(' ');
}

/**
 * notify-invalid, before writing any entry: lists the schools in the index and, while an
 * overdue-sync runs, journals the merges for it to replay. Resolves when that is done;
 * a lock no run wrote is a ConfigError in overdue-sync's words, nothing written.
 */
export async function recordNotifiedSchools(redis: RedisClient, indexKey: string, merges: readonly PupilMerge[], ttlSeconds: number): Promise<void> {
  if (merges.length === 0) return;
  const lock = lockKeyOf(indexKey);
  const reply = await recordScript.run(redis, 3, [indexKey, lock, journalKeyOf(indexKey), ttlSeconds, ...merges.map(record)]);
  if (Array.isArray(reply)) {
    const [type, pttlMs] = reply as [string, number];
    throw new ConfigError(lockRefusal(lock, String(type), Number(pttlMs)) ?? `the key ${lock} holds a ${String(type)} that overdue-sync never writes`);
  }
}

/** Loads the run's scripts on every node ahead of its pass. */
export async function loadSyncScripts(redis: RedisClient): Promise<void> {
  await Promise.all([beginScript.load(redis), foldScript.load(redis), renewScript.load(redis), finishScript.load(redis), abandonScript.load(redis)]);
}

/**
 * Takes the run lock (SET NX with the lock's lifetime). Returns whether this run has it.
 */
export async function takeLock(redis: RedisClient, indexKey: string, token: string, lockMs: number): Promise<boolean> {
  return (await redis.set(lockKeyOf(indexKey), token, 'PX', lockMs, 'NX')) === 'OK';
}

/** Extends the lock (and the journal) if it is still this run's; false when it is not. */
export async function renewLock(redis: RedisClient, indexKey: string, token: string, lockMs: number): Promise<boolean> {
  return Number(await renewScript.run(redis, 2, [lockKeyOf(indexKey), journalKeyOf(indexKey), token, lockMs])) === 1;
}

/**
 * The run's first step (see beginScript). Returns the schools to remove, or null when the
 * lock is no longer this run's (nothing was done).
 */
export function beginRun(redis: RedisClient, indexKey: string, token: string, ttlSeconds: number, lockMs: number, schools: readonly string[]): Promise<string[] | null> {
  const keys = [indexKey, nextKeyOf(indexKey), lockKeyOf(indexKey), journalKeyOf(indexKey), lastRunKeyOf(indexKey)];
  return beginScript.run(redis, keys.length, [...keys, token, ttlSeconds, lockMs, ...schools]) as Promise<string[] | null>;
}

/**
 * overdue-sync's last step (see finishScript): `entriesToRemove` only on one server. Returns
 * the merges to replay, one per school, or null when the lock is no longer this run's
 * (nothing was done).
 */
export async function finishRun(
  redis: RedisClient,
  indexKey: string,
  token: string,
  ttlSeconds: number,
  notified: boolean,
  entriesToRemove: readonly string[],
): Promise<PupilMerge[] | null> {
  const finished = finishedRun(await finishScript.run(redis, 5, finishArgs(indexKey, token, ttlSeconds, notified, ['', ...entriesToRemove])));
  return finished === null ? null : finished.replay;
}

/** The finish script's KEYS and ARGV; `removal`: the prefix, or "" and the entries to remove. */
export function finishArgs(indexKey: string, token: string, ttlSeconds: number, notified: boolean, removal: readonly string[]): Array<string | number> {
  const keys = [lockKeyOf(indexKey), journalKeyOf(indexKey), indexKey, lastRunKeyOf(indexKey), nextKeyOf(indexKey)];
  return [...keys, token, ttlSeconds, new Date().toISOString(), lastRunKeepSeconds, notified ? '1' : '0', ...removal];
}

/** The finish script's reply: how many entries it was to remove and the merges to replay, or null (lock not this run's). */
export function finishedRun(reply: unknown): { removed: number; replay: PupilMerge[] } | null {
  if (!Array.isArray(reply)) return null;
  const [removed, ...records] = reply as [number, ...string[]];
  return { removed: Number(removed), replay: mergesOf(records) };
}

/** Lets go of a failed run's lock (if still its own) and drops the journal. */
export async function abandonRun(redis: RedisClient, indexKey: string, token: string): Promise<void> {
  await abandonScript.run(redis, 2, [lockKeyOf(indexKey), journalKeyOf(indexKey), token]);
}

/** Journal records grouped by school, each pupil once (pure). */
export function mergesOf(records: readonly string[]): PupilMerge[] {
  const bySchool = new Map<string, Set<string>>();
  for (const r of records) {
    const [school, ...pupils] = r.split(' ');
    if (!school) continue;
    const set = bySchool.get(school) ?? new Set<string>();
    for (const p of pupils) if (p) set.add(p);
    bySchool.set(school, set);
  }
  return [...bySchool].map(([school, pupils]) => ({ school, pupils: [...pupils] }));
}
