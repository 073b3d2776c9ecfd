/**
 * Adding pupils to schools' notifications, atomically on the server: notify-invalid's
 * write, and overdue-sync's replay of the notify-invalid writes its run may have
 * overwritten (see sync-journal.ts).
 */
import { isUuid } from '../ids.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { RedisClient } from '../redis/redis.js';
import { LuaScript } from '../redis/script.js';
import { type NotificationFormat, notificationKey } from './notification.js';

export interface PupilMerge {
  school: string;
  pupils: readonly string[];
}

export interface MergeOptions {
  notificationPrefix: string;
  notificationTtlSeconds: number;
  notificationFormat: NotificationFormat;
  /** The creation time of an entry that does not exist yet. */
  now: Date;
  log?: Logger;
}

/**
 * KEYS[1] the school's entry; ARGV: school UUID, creation time, TTL, format, pupil UUIDs.
 * Returns {pupils listed, what was replaced (or nil)}.
 *
 * Read-modify-write on the server, so two handlers at once never lose each other's
 * pupils. It reads an entry of either format (MTC's envelope, or the bare object) and
 * writes the configured one. Only what is checked is kept: ids that are UUIDs, and a
 * creation time that is a real UTC time as overdue-sync writes it (Date#toISOString,
 * `YYYY-MM-DDTHH:MM:SS.sssZ`: a month 01-12, a day that month has, hours 00-23, minutes
 * and seconds 00-59); so the JSON is assembled by hand from those strings, without
 * cjson's encoder, which turns an empty array into {} and escapes '/'. Anything else
 * under the key (not JSON, another shape, another school, an id that is not a UUID, a
 * creation time that is not such a time, another Redis type) is replaced by a fresh
 * entry for this school, and said so.
 */
const mergeScript = new LuaScript(
  'merge-processing-error-pupils',
  `local key, school, now, ttl, format = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local uuid = '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$'
-- A JSON array as cjson decodes it: keys 1..n ([] and {} both give an empty table).
local function uuids(t)
  if type(t) ~= 'table' then return nil end
  local n = 0
  for k, v in pairs(t) do
    if type(k) ~= 'number' or type(v) ~= 'string' or not string.find(v, uuid) then return nil end
    n = n + 1
  end
  if n ~= #t then return nil end
  return t
end
-- A time as Date#toISOString writes it (overdue-sync's), and a real one: 2026-02-29 or
-- 24:00 is not, nor another offset, precision or separator.
local function isoTime(v)
  if type(v) ~= 'string' then return nil end
  local y, mo, d, h, mi, s = string.match(v, '^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.%d%d%dZ$')
  if not y then return nil end
  y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 or s > 59 then return nil end
  local days = 31
  if mo == 2 then
    days = (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  elseif mo == 4 or mo == 6 or mo == 9 or mo == 11 then
    days = 30
  end
  if d > days then return nil end
  return v
end
local function notification(doc)
  if type(doc) ~= 'table' or doc.schoolUUID ~= school then return nil end
  local created = isoTime(doc.dateTimeCreated)
  if not created then return nil end
  local errors, overdue = uuids(doc.processingErrorPupilUUIDs), uuids(doc.overdueChecksUUIDs)
  if not errors or not overdue then return nil end
  return errors, overdue, created
end
local errors, overdue, created, replaced = {}, {}, now, false
local raw = redis.pcall('GET', key)
if type(raw) == 'table' and raw.err then
  replaced = 'a Redis ' .. redis.call('TYPE', key).ok
elseif raw then
  local e, o, c
  local ok, doc = pcall(cjson.decode, raw)
  if not ok then
    replaced = 'text that is not JSON'
  elseif type(doc) == 'table' and type(doc.meta) == 'table' then
    if doc.meta.type == 'object' and type(doc.value) == 'string' then
      local parsed, inner = pcall(cjson.decode, doc.value)
      if parsed then e, o, c = notification(inner) end
      if not e then replaced = 'an MTC cache entry that is not a well-formed notification of this school (school, lists of UUIDs, creation time)' end
    else
      replaced = 'an MTC cache entry of type ' .. tostring(doc.meta.type)
    end
  else
    e, o, c = notification(doc)
    if not e then replaced = 'JSON that is not a well-formed notification of this school (school, lists of UUIDs, creation time)' end
  end
  if e then errors, overdue, created = e, o, c end
end
local merged, seen = {}, {}
local function add(v)
  if not seen[v] then
    seen[v] = true
    merged[#merged + 1] = v
  end
end
for _, v in ipairs(errors) do add(v) end
for i = 5, #ARGV do add(ARGV[i]) end
table.sort(merged)
local function list(t)
  if #t == 0 then return '[]' end
  return '["' .. table.concat(t, '","') .. '"]'
end
local json = '{"schoolUUID":"' .. school .. '","dateTimeCreated":"' .. created ..
  '","processingErrorPupilUUIDs":' .. list(merged) .. ',"overdueChecksUUIDs":' .. list(overdue) .. '}'
if format == 'mtc' then
  -- The text holds no backslash or control character (checked above): quotes are all to escape.
  json = '{"meta":{"type":"object"},"value":"' .. (string.gsub(json, '"', '\\\\"')) .. '"}'
end
redis.call('SET', key, json, 'EX', ttl)
return {#merged, replaced}`,
);

/**
 * Adds each school's pupils to its entry (created if absent), refreshing its TTL; all
 * sent at once. A value under a school's key that is not a notification is replaced, with
 * a warning naming the key. Returns the keys replaced so.
 */
export async function mergePupils(redis: RedisClient, merges: readonly PupilMerge[], options: MergeOptions): Promise<Array<{ key: string; found: string }>> {
  const log = options.log ?? silentLogger;
  const created = options.now.toISOString();
  const replies = await Promise.all(
    merges.map(async ({ school, pupils }) => {
      const key = notificationKey(options.notificationPrefix, school);
      // Never the case for ids read from the database by the jobs; checked because the
      // script writes them into JSON as they are.
      const bad = [school, ...pupils].find((id) => !isUuid(id) || id !== id.toLowerCase());
      if (bad !== undefined) {
        log.warn(`school ${school}: ${JSON.stringify(bad)} is not a lower-case UUID; its notification is not changed`);
        return null;
      }
      const reply = (await mergeScript.run(redis, 1, [key, school, created, options.notificationTtlSeconds, options.notificationFormat, ...pupils])) as [number, string | null];
      return reply[1] ? { key, found: reply[1] } : null;
    }),
  );
  const replaced = replies.filter((r): r is { key: string; found: string } => r !== null);
  for (const { key, found } of replaced) log.warn(`replaced ${found} under ${key} with a fresh notification`, { key });
  return replaced;
}
