/**
 * `demo`: on a fresh database, build a small world and run every job once through the
 * same library functions the subcommands call (no demo-only logic), collecting what
 * happened for a person to read.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import type { RedisClient } from '../redis/redis.js';
import { unlinkMany } from '../redis/redis-writer.js';
import { LuaScript } from '../redis/script.js';
import type { Config } from '../config/settings.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { notifyInvalid } from '../notifications/check-invalid.js';
import { notificationKey } from '../notifications/notification.js';
import { overdueSync } from '../notifications/overdue-sync.js';
import { bookkeepingTypes, lockKeyOf, nextKeyOf } from '../notifications/sync-journal.js';
import { RescopeBus } from '../rescope/bus.js';
import { dispatch } from '../rescope/dispatch.js';
import { enqueue } from '../rescope/enqueue.js';
import { parseEnqueueRequest } from '../rescope/enqueue-request.js';
import { processQueue } from '../rescope/process-queue.js';
import { type ShowOutcome, rescopeShow } from '../rescope/show.js';
import type { SkippedContent } from '../rescope/skip-rule.js';
import { getStatus } from '../status/status.js';
import { type DemoWorld, seedDemoWorld } from './demo-world.js';

export const demoKeyPrefix = 'demo:';

/** The settings that name the demo's keys (demoSettings gives them). */
export type DemoKeySettings = Pick<Config, 'busKey' | 'sessionPrefix' | 'notificationPrefix' | 'notificationIndexKey'>;

/** The settings the demo runs with: its own file and its own Redis keys. */
export function demoSettings(file: string): Partial<Config> & DemoKeySettings {
  return {
    databaseUrl: `sqlite:${file}`,
    databaseSchema: null,
    busKey: `${demoKeyPrefix}rescope:bus`,
    sessionPrefix: `${demoKeyPrefix}session:`,
    notificationPrefix: `${demoKeyPrefix}school.home.overdue:`,
    notificationIndexKey: `${demoKeyPrefix}{overdue}:notified`,
  };
}

/** Session tokens the demo creates, so its rescope-show can be repeated by hand. */
export const demoTokens = { teacher: 'demoTokenTeacher', ben: 'demoTokenBen' } as const;

export interface DemoReport {
  world: DemoWorld;
  enqueued: Awaited<ReturnType<typeof enqueue>>;
  dispatched: Awaited<ReturnType<typeof dispatch>>;
  processed: Awaited<ReturnType<typeof processQueue>>;
  /** What each learner may skip, as the teacher sees it through rescope-show. */
  skips: Array<{ learner: string; outcome: ShowOutcome; content: SkippedContent | null }>;
  /** Ben asking for Ada's course. */
  refused: ShowOutcome;
  synced: Awaited<ReturnType<typeof overdueSync>>;
  notifications: Array<{ school: string; value: string | null }>;
  invalid: Awaited<ReturnType<typeof notifyInvalid>>;
  elmAfterInvalid: string | null;
  status: Awaited<ReturnType<typeof getStatus>>;
}

/**
 * Removes the keys an earlier demo run wrote, and only those: its bus, the sessions of its
 * tokens, the notification entries of the schools its index (and a crashed run's
 * `<index>:next`) lists, and the index with its bookkeeping keys. Its schools' ids are new
 * on every run, so the index, which overdue-sync and notify-invalid keep of every school
 * they give an entry, is where an earlier run's are found (as overdue-sync itself finds the
 * entries to remove). Any other key, under `demo:` or not, is left alone; a key of one of
 * these names holding another type than the demo writes there is refused (ConfigError,
 * before anything is removed). Returns how many keys were removed. In a cluster each key is
 * removed on the master that serves it.
 */
export async function clearDemoKeys(redis: RedisClient, settings: DemoKeySettings): Promise<number> {
  const index = settings.notificationIndexKey;
  const listed = async (key: string) => ((await redis.type(key)) === 'set' ? redis.smembers(key) : []);
  const schools = new Set((await Promise.all([listed(index), listed(nextKeyOf(index))])).flat());
  // Each key with the Redis type the demo writes under it: a key of another type is not
  // an earlier demo's, and stops the demo before anything is removed.
  const typed: Array<[key: string, type: string]> = [
    [settings.busKey, 'list'],
    ...Object.values(demoTokens).map((token): [string, string] => [`${settings.sessionPrefix}${token}`, 'string']),
    ...[...schools].map((school): [string, string] => [notificationKey(settings.notificationPrefix, school), 'string']),
    ...bookkeepingTypes(index),
    [lockKeyOf(index), 'string'],
  ];
  const found = await Promise.all(typed.map(([key]) => redis.type(key)));
  const clash = typed.findIndex(([, type], i) => found[i] !== 'none' && found[i] !== type);
  if (clash >= 0) {
    const [key, type] = typed[clash]!;
    throw new ConfigError(
      `the Redis key ${key} holds a ${String(found[clash])}, not a ${type} as the demo writes there: another program uses that name; ` +
        'the demo uses fixed key names under demo:, so remove that key if nothing else uses it, or give the demo another Redis (--redis-url or REDIS_URL)',
    );
  }
  return unlinkMany(
    redis,
    typed.filter((_, i) => found[i] !== 'none').map(([key]) => key),
  );
}

/** The key a running demo holds, so a second demo against the same Redis waits its turn. */
export const demoRunningKey = `${demoKeyPrefix}running`;
const demoRunMs = 30_000;

/** KEYS: the lock; ARGV: its holder's token. Deletes it only while it is that holder's. */
const releaseScript = new LuaScript('release-demo-lock', "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
/** KEYS: the lock; ARGV: its holder's token, its lifetime in ms. Extends it only while it is that holder's. */
const renewScript = new LuaScript('renew-demo-lock', "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0");

/**
 * Takes the demo's run lock in Redis (its keys have fixed names, so two demos against
 * one Redis would replace each other's world while both reported success). Refuses
 * (exit 2) while another demo holds it; a demo that was killed lets go within 30 s.
 * Resolves to the release, which renews the lock meanwhile.
 */
export async function holdDemoLock(redis: RedisClient): Promise<() => Promise<void>> {
  const token = `${hostname()} ${process.pid} ${randomUUID()}`;
  let taken = (await redis.set(demoRunningKey, token, 'PX', demoRunMs, 'NX')) === 'OK';
  if (!taken) {
    // A demo killed on this machine (its process is gone) lets go at once.
    const holder = await redis.get(demoRunningKey).catch(() => null);
    const [host, pid] = holder?.split(' ') ?? [];
    if (host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !processAlive(Number(pid))) {
      await releaseScript.run(redis, 1, [demoRunningKey, holder!]);
      taken = (await redis.set(demoRunningKey, token, 'PX', demoRunMs, 'NX')) === 'OK';
    }
  }
  if (!taken) {
    const [type, left] = await Promise.all([redis.type(demoRunningKey), redis.pttl(demoRunningKey)]);
    if (type !== 'string' || left < 0) {
      throw new ConfigError(`the Redis key ${demoRunningKey} holds a ${type}${left < 0 ? ' without a lifetime' : ''}, not a demo's run lock: another program uses that name; remove it if nothing else uses it, or give the demo another Redis (--redis-url or REDIS_URL)`);
    }
    throw new ConfigError(`another demo is running against this Redis (it holds ${demoRunningKey} for ${Math.ceil(left / 1000)} s more): wait for it to finish, then run the demo again`);
  }
  const renewal = setInterval(() => {
    renewScript.run(redis, 1, [demoRunningKey, token, demoRunMs]).catch(() => undefined);
  }, demoRunMs / 3);
  renewal.unref();
  return async () => {
    clearInterval(renewal);
    // Only its own: a lock that expired meanwhile may be another demo's.
    await releaseScript.run(redis, 1, [demoRunningKey, token]);
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runDemo(db: Database, redis: RedisClient, config: Readonly<Config>, options: { log?: Logger; now?: Date } = {}): Promise<DemoReport> {
  const log = options.log ?? silentLogger;
  const now = options.now ?? new Date();
  await migrate(db, { log });
  const world = await seedDemoWorld(db, now);
  const { ada, ben, cat } = world.year5.learners;

  // Rescope: Ada and Ben join the class, then its rescope setting changes (queueing Cat
  // too), and Year 6's setting changes while its rescope is off (nothing queued).
  const requests = [
    { source: 'join.class', classId: world.year5.id, memberIds: [ada, ben] },
    { source: 'rescope', classId: world.year5.id },
    { source: 'rescope', classId: world.year6.id },
  ].map((request, i) => {
    const parsed = parseEnqueueRequest(request);
    if (!parsed.ok) throw new Error(parsed.error);
    return { line: i + 1, request: parsed.value };
  });
  const enqueued = await enqueue(db, requests, { log });
  const bus = new RescopeBus(redis, config.busKey);
  const dispatched = await dispatch(db, bus, { ...config, log });
  const processed = await processQueue(db, bus, { ...config, log });

  await redis.set(`${config.sessionPrefix}${demoTokens.teacher}`, JSON.stringify({ user_id: world.year5.teacher }), 'EX', 3600);
  await redis.set(`${config.sessionPrefix}${demoTokens.ben}`, JSON.stringify({ user_id: ben }), 'EX', 3600);
  const show = (token: string, userId: string) => rescopeShow(db, redis, { token, courseId: world.course.id, classId: world.year5.id, userId }, { sessionPrefix: config.sessionPrefix, log });
  const skips: DemoReport['skips'] = [];
  for (const learner of [ada, ben, cat]) {
    const outcome = await show(demoTokens.teacher, learner);
    skips.push({ learner, outcome, content: outcome.status === 'found' ? (JSON.parse(outcome.content) as SkippedContent) : null });
  }
  const refused = await show(demoTokens.ben, ada);

  // Notifications: one pass of the periodic job, then one checkInvalid message.
  const synced = await overdueSync(db, redis, { ...config, now, log });
  const entry = (school: string) => redis.get(`${config.notificationPrefix}${school}`);
  const notifications = await Promise.all(Object.values(world.schools).map(async (school) => ({ school, value: await entry(school) })));
  const invalid = await notifyInvalid(db, redis, [{ line: 1, checkCode: world.pupils.invalidLater.checkCode }], { ...config, now, log });
  const elmAfterInvalid = await entry(world.schools.elm);

  const status = await getStatus(db, Promise.resolve(redis), config);
  return { world, enqueued, dispatched, processed, skips, refused, synced, notifications, invalid, elmAfterInvalid, status };
}
