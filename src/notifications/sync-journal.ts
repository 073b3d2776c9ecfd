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
import type { RedisClient } from '../redis/redis.js';
import { LuaScript } from '../redis/script.js';
import type { PupilMerge } from './merge-pupils.js';

export const nextKeyOf = (indexKey: string) => `${indexKey}:next`;
export const lockKeyOf = (indexKey: string) => `${indexKey}:lock`;
export const journalKeyOf = (indexKey: string) => `${indexKey}:journal`;

export const lastRunKeyOf = (indexKey: string) => `${indexKey}:last-run`;

/** How long a run may hold the lock before another may assume it died. */
export const lockMs = 10 * 60_000;

/**
 * The lifetime each successful run gives `<index>:last-run`: its age is this minus what is
 * left (no clocks compared between machines). Gone after a week without a run.
 */
export const lastRunKeepSeconds = 7 * 86_400;

/**
 * KEYS: index, lock, journal; ARGV: TTL seconds, the journal's lifetime when the lock has
 * none, then one record per school ("<school> <pupil> <pupil>…"). The index lives as long
 * as the entries it lists; the journal no longer than the lock that makes it useful.
 */
const recordScript = new LuaScript(
  'record-notified-schools',
  `local index, lock, journal = KEYS[1], KEYS[2], KEYS[3]
for i = 3, #ARGV do redis.call('SADD', index, string.match(ARGV[i], '^%S+')) end
redis.call('EXPIRE', index, ARGV[1])
local held = redis.call('PTTL', lock)
if held == -2 then return 0 end
for i = 3, #ARGV do redis.call('RPUSH', journal, ARGV[i]) end
if held > 0 then redis.call('PEXPIRE', journal, held) else redis.call('PEXPIRE', journal, ARGV[2]) end
return #ARGV - 2`,
);

/**
 * KEYS: lock, journal, index, last-run; ARGV: the run's token, TTL seconds, the time,
 * last-run's lifetime. Returns the journal's records. The lock is let go only if it is
 * still this run's. Every successful run, one that notified nobody too, says when it ran.
 */
const finishScript = new LuaScript(
  'finish-overdue-sync',
  `local lock, journal, index = KEYS[1], KEYS[2], KEYS[3]
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
local records = redis.call('LRANGE', journal, 0, -1)
if #records > 0 then
  redis.call('DEL', journal)
  for _, r in ipairs(records) do redis.call('SADD', index, string.match(r, '^%S+')) end
  redis.call('EXPIRE', index, ARGV[2])
end
if redis.call('GET', lock) == ARGV[1] then redis.call('DEL', lock) end
return records`,
);

/**
 * KEYS: lock, journal; ARGV: the run's token. A run that fails lets go of its lock and
 * drops its journal: the next run's query sees every check the journal names.
 */
const abandonScript = new LuaScript(
  'abandon-overdue-sync',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`,
);

function record({ school, pupils }: PupilMerge): string {
  return [school, ...pupils].join(' ');
}

/**
 * notify-invalid, before writing any entry: lists the schools in the index and, while an
 * overdue-sync runs, journals the merges for it to replay. Resolves when that is done.
 */
export async function recordNotifiedSchools(redis: RedisClient, indexKey: string, merges: readonly PupilMerge[], ttlSeconds: number): Promise<void> {
  if (merges.length === 0) return;
  await recordScript.run(redis, 3, [indexKey, lockKeyOf(indexKey), journalKeyOf(indexKey), ttlSeconds, lockMs, ...merges.map(record)]);
}

/** Loads the run's scripts on every node ahead of its pass. */
export async function loadSyncScripts(redis: RedisClient): Promise<void> {
  await Promise.all([finishScript.load(redis), abandonScript.load(redis)]);
}

/**
 * overdue-sync's last step, after its removals: takes the journal (adding its schools to
 * the index), records the run's time and lets go of the lock. Returns the merges to replay, one per school.
 */
export async function finishRun(redis: RedisClient, indexKey: string, token: string, ttlSeconds: number): Promise<PupilMerge[]> {
  const keys = [lockKeyOf(indexKey), journalKeyOf(indexKey), indexKey, lastRunKeyOf(indexKey)];
  const records = (await finishScript.run(redis, keys.length, [...keys, token, ttlSeconds, new Date().toISOString(), lastRunKeepSeconds])) as string[];
  return mergesOf(records);
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
