/**
 * Adding pupils to schools' notifications, atomically on the server: notify-invalid's
 * write, and overdue-sync's replay of the notify-invalid writes its run may have
 * overwritten (see sync-journal.ts).
 */
import type { RedisClient } from '../redis/redis.js';
import { LuaScript } from '../redis/script.js';
import { notificationKey } from './notification.js';

export interface PupilMerge {
  school: string;
  pupils: readonly string[];
}

export interface MergeOptions {
  notificationPrefix: string;
  notificationTtlSeconds: number;
  /** The creation time of an entry that does not exist yet. */
  now: Date;
}

/**
 * KEYS[1] the school's notification; ARGV: school UUID, creation time, TTL, pupil UUIDs.
 * Read-modify-write on the server, so two handlers at once never lose each other's
 * pupils. The JSON is assembled by hand: Redis's cjson encodes an empty array as {}.
 */
const addPupilsScript = new LuaScript(
  'add-processing-error-pupils',
  `local key = KEYS[1]
local errors, overdue, created = {}, {}, ARGV[2]
local raw = redis.call('GET', key)
if raw then
  local ok, doc = pcall(cjson.decode, raw)
  if ok and type(doc) == 'table' then
    if type(doc.processingErrorPupilUUIDs) == 'table' then errors = doc.processingErrorPupilUUIDs end
    if type(doc.overdueChecksUUIDs) == 'table' then overdue = doc.overdueChecksUUIDs end
    if type(doc.dateTimeCreated) == 'string' then created = doc.dateTimeCreated end
  end
end
local seen = {}
for _, v in ipairs(errors) do seen[v] = true end
for i = 4, #ARGV do
  if not seen[ARGV[i]] then
    errors[#errors + 1] = ARGV[i]
    seen[ARGV[i]] = true
  end
end
table.sort(errors)
local function list(t)
  local parts = {}
  for i, v in ipairs(t) do parts[i] = cjson.encode(v) end
  return '[' .. table.concat(parts, ',') .. ']'
end
local json = '{"schoolUUID":' .. cjson.encode(ARGV[1]) .. ',"dateTimeCreated":' .. cjson.encode(created) ..
  ',"processingErrorPupilUUIDs":' .. list(errors) .. ',"overdueChecksUUIDs":' .. list(overdue) .. '}'
redis.call('SET', key, json, 'EX', ARGV[3])
return #errors`,
);

/** Adds each school's pupils to its entry (created if absent), refreshing its TTL; all sent at once. */
export async function mergePupils(redis: RedisClient, merges: readonly PupilMerge[], options: MergeOptions): Promise<void> {
  const created = options.now.toISOString();
  await Promise.all(
    merges.map(({ school, pupils }) =>
      addPupilsScript.run(redis, 1, [notificationKey(options.notificationPrefix, school), school, created, options.notificationTtlSeconds, ...pupils]),
    ),
  );
}
