/**
 * status says how long ago overdue-sync last succeeded, from a key every successful run
 * writes: also after a run that notified no school (the index is then removed) and after
 * notify-invalid recreated the index; a dry run, a skipped run or a failed run says nothing.
 */
import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { type RedisStatus, getStatus } from '../src/status/status.js';
import { eachTarget } from './helpers/databases.js';
import { type NotificationFixture, notificationFixture } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';
import { runCli } from './helpers/cli.js';

useRedisCluster();

const now = new Date('2026-03-02T10:00:00.000Z');

async function redisStatus(f: NotificationFixture): Promise<RedisStatus> {
  const status = await getStatus(f.db, Promise.resolve(f.redis.client), { leaseSeconds: 600, busKey: `${f.redis.prefix}bus`, notificationIndexKey: f.options.notificationIndexKey, notificationTtlSeconds: f.options.notificationTtlSeconds });
  if ('error' in status.redis) throw new Error(status.redis.error);
  return status.redis;
}

function recent(seconds: number | null): boolean {
  return seconds !== null && seconds >= 0 && seconds <= 5;
}

eachTarget('status knows when overdue-sync last ran, after a run that notified nobody and after notify-invalid made the index', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
  t.like(await redisStatus(f), { notifications: 0, lastOverdueSyncSecondsAgo: null }, 'never ran');

  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 0 });
  const quiet = await redisStatus(f);
  t.is(quiet.notifications, 0);
  t.true(recent(quiet.lastOverdueSyncSecondsAgo), `after a run that notified nobody: ${quiet.lastOverdueSyncSecondsAgo}`);

  await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now });
  const afterNotify = await redisStatus(f);
  t.is(afterNotify.notifications, 1);
  t.true(recent(afterNotify.lastOverdueSyncSecondsAgo), `after notify-invalid made the index: ${afterNotify.lastOverdueSyncSecondsAgo}`);
  t.true((await f.redis.client.ttl(f.options.notificationIndexKey)) > 0, 'notify-invalid gives the index a lifetime');

  // The age is the last-run key's lost lifetime: an hour ago reads as an hour.
  const lastRun = `${f.options.notificationIndexKey}:last-run`;
  await f.redis.client.expire(lastRun, (await f.redis.client.ttl(lastRun)) - 3600);
  const hourAgo = (await redisStatus(f)).lastOverdueSyncSecondsAgo ?? -1;
  t.true(hourAgo >= 3600 && hourAgo <= 3605, String(hourAgo));
});

eachTarget('only a successful run records its time: not a dry run, a skipped run or a failed one', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const lock = `${f.options.notificationIndexKey}:lock`;

  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now, dryRun: true }), { schools: 1 });
  t.is((await redisStatus(f)).lastOverdueSyncSecondsAgo, null, 'dry run');

  await f.redis.client.set(lock, 'another-run', 'PX', 60_000);
  t.truthy((await overdueSync(f.db, f.redis.client, { ...f.options, now })).skipped);
  t.is((await redisStatus(f)).lastOverdueSyncSecondsAgo, null, 'skipped');
  await f.redis.client.del(lock);

  const failing = overdueSync(f.db, f.redis.client, { ...f.options, now, hooks: { beforeRemoval: () => Promise.reject(new Error('simulated failure')) } });
  await t.throwsAsync(failing, { message: 'simulated failure' });
  t.is((await redisStatus(f)).lastOverdueSyncSecondsAgo, null, 'failed');

  await overdueSync(f.db, f.redis.client, { ...f.options, now });
  t.true(recent((await redisStatus(f)).lastOverdueSyncSecondsAgo));
});

eachTarget("a last-run key of another Redis type (another program's) is a problem naming it, not an age read from its lifetime", async (t, target) => {
  const f = await notificationFixture(t, target);
  const index = f.options.notificationIndexKey;
  const lastRun = `${index}:last-run`;
  const options = { leaseSeconds: 600, busKey: `${f.redis.prefix}bus`, notificationIndexKey: index, notificationTtlSeconds: f.options.notificationTtlSeconds };
  const env = { ...f.env, MTC_BATCH_BUS_KEY: options.busKey };
  await f.redis.client.sadd(index, 's1', 's2');
  await f.redis.client.rpush(options.busKey, '7');
  const kinds: Array<[string, () => Promise<unknown>]> = [
    // With a lifetime of an hour: read as overdue-sync's, it would say the last run ended 6 days 23 hours ago.
    ['list', async () => f.redis.client.multi().rpush(lastRun, 'x').expire(lastRun, 3600).exec()],
    // Without one: read as overdue-sync's, it would say no run for a week.
    ['hash', () => f.redis.client.hset(lastRun, 'owner', 'another program')],
  ];
  for (const [type, write] of kinds) {
    await f.redis.client.del(lastRun);
    await write();
    const status = await getStatus(f.db, Promise.resolve(f.redis.client), options);
    t.like(status.redis, { bus: 1, notifications: 2, lastOverdueSyncSecondsAgo: null, lastOverdueSyncRead: false }, type);
    t.false(status.healthy);
    const own = status.problems.filter((p) => !/on the bus but no row is dispatched/.test(p));
    t.is(own.length, 1, `${type}: ${JSON.stringify(status.problems)}`);
    t.true(
      own[0]!.startsWith(`the Redis key ${lastRun} holds a ${type}, not a string`) && own[0]!.includes("(MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey)"),
      own[0],
    );

    const json = await runCli(['status', '--json'], { env });
    t.is(json.code, 0, `${type}: ${json.stdout}${json.stderr}`);
    t.like(json.json(), { redis: { bus: 1, notifications: 2, lastOverdueSyncSecondsAgo: null, lastOverdueSyncRead: false }, healthy: false });
    const human = await runCli(['status'], { env });
    t.is(human.code, 0, human.stdout);
    // Not read, and the table says so: a bare count would look like "never ran".
    t.regex(human.stdout, /^ {2}notifications +2 schools {2}\(last overdue-sync not read, below\)$/m);
    t.true(human.stdout.includes(`the Redis key ${lastRun} holds a ${type}, not a string`), human.stdout);
    t.is((await runCli(['status', '--strict'], { env })).code, 1, type);
    // Read, never written.
    t.is(await f.redis.client.type(lastRun), type);
  }
});

/** status's options and CLI environment for the fixture, with a bus key of the test's own. */
function statusSetup(f: NotificationFixture) {
  const options = { leaseSeconds: 600, busKey: `${f.redis.prefix}bus`, notificationIndexKey: f.options.notificationIndexKey, notificationTtlSeconds: f.options.notificationTtlSeconds };
  return { options, env: { ...f.env, MTC_BATCH_BUS_KEY: options.busKey } };
}

eachTarget("a lock no run wrote (another type, or a value without a lifetime) is a problem in overdue-sync's words, naming the key; every figure is still read", async (t, target) => {
  const f = await notificationFixture(t, target);
  const index = f.options.notificationIndexKey;
  const lock = `${index}:lock`;
  const { options, env } = statusSetup(f);
  await f.redis.client.sadd(index, 's1', 's2');
  // overdue-sync ended two minutes ago.
  await f.redis.client.set(`${index}:last-run`, new Date().toISOString(), 'EX', 7 * 86_400 - 120);
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['a hash without a lifetime', () => f.redis.client.hset(lock, 'owner', 'another program')],
    ['a hash with a lifetime', () => f.redis.client.multi().hset(lock, 'owner', 'another program').pexpire(lock, 600_000).exec()],
    ['a string without a lifetime', () => f.redis.client.set(lock, 'another program')],
  ];
  for (const [what, write] of cases) {
    await f.redis.client.del(lock);
    await write();
    // Every overdue-sync refuses to run: status, which read everything as healthy, says so in the same words.
    const refusal = (await t.throwsAsync(overdueSync(f.db, f.redis.client, { ...f.options, now })))?.message ?? '';
    t.true(refusal.startsWith(`the key ${lock} holds a `), refusal);
    const status = await getStatus(f.db, Promise.resolve(f.redis.client), options);
    t.false(status.healthy, what);
    t.deepEqual(status.problems, [refusal], what);
    t.like(status.redis, { bus: 0, notifications: 2, lastOverdueSyncRead: true }, what);
    const ago = (status.redis as RedisStatus).lastOverdueSyncSecondsAgo ?? -1;
    t.true(ago >= 120 && ago <= 180, `${what}: the last run is still read: ${ago}`);

    const json = await runCli(['status', '--json'], { env });
    t.is(json.code, 0, `${what}: ${json.stdout}${json.stderr}`);
    t.like(json.json(), { healthy: false, problems: [refusal] });
    const human = await runCli(['status'], { env });
    t.true(human.stdout.includes(`  - ${refusal}`), human.stdout);
    t.regex(human.stdout, /^ {2}notifications +2 schools {2}\(overdue-sync 2m \d+s ago\)$/m, what);
    t.is((await runCli(['status', '--strict'], { env })).code, 1, what);
    // Read, never written.
    t.is(await f.redis.client.type(lock), what.split(' ')[1]!, what);
  }
  // A run's lock (a string with a lifetime) is a run in progress, not a problem.
  await f.redis.client.del(lock);
  await f.redis.client.set(lock, 'another-run', 'PX', 60_000);
  const running = await getStatus(f.db, Promise.resolve(f.redis.client), options);
  t.true(running.healthy, running.problems.join('; '));
  t.is((await runCli(['status', '--strict'], { env })).code, 0);
});

eachTarget('a last-run string with a lifetime no run gives it (none, or longer than 7 days) is a problem naming it, not an age', async (t, target) => {
  const f = await notificationFixture(t, target);
  const index = f.options.notificationIndexKey;
  const lastRun = `${index}:last-run`;
  const { options, env } = statusSetup(f);
  await f.redis.client.sadd(index, 's1', 's2');
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    // Read as overdue-sync's, it would say no run for a week.
    ['without a lifetime', () => f.redis.client.set(lastRun, 'another program'), /^holds a string without a lifetime, /],
    // Read as overdue-sync's, it would say a run ended just now (an age of 0, healthy).
    ['living 30 days', () => f.redis.client.set(lastRun, 'another program', 'EX', 30 * 86_400), /^holds a string with 259\d{4} s to live, where every run of overdue-sync gives it 604800 s \(7 days\)/],
  ];
  for (const [what, write, words] of cases) {
    await f.redis.client.del(lastRun);
    await write();
    const status = await getStatus(f.db, Promise.resolve(f.redis.client), options);
    t.like(status.redis, { notifications: 2, lastOverdueSyncSecondsAgo: null, lastOverdueSyncRead: false }, what);
    t.false(status.healthy, what);
    t.is(status.problems.length, 1, `${what}: ${JSON.stringify(status.problems)}`);
    const problem = status.problems[0]!;
    t.true(problem.startsWith(`the Redis key ${lastRun} `), problem);
    t.regex(problem.slice(`the Redis key ${lastRun} `.length), words, what);
    t.true(problem.includes('not written by overdue-sync'), problem);
    t.true(problem.includes("(MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey)"), problem);

    const json = await runCli(['status', '--json'], { env });
    t.is(json.code, 0, `${what}: ${json.stdout}${json.stderr}`);
    // The seconds left move on between the two readings (a second boundary may fall between them).
    const stable = (text: string) => text.replace(/with \d+ s to live/, 'with N s to live');
    const out = json.json<{ problems: string[] }>();
    t.like(out, { redis: { lastOverdueSyncSecondsAgo: null, lastOverdueSyncRead: false }, healthy: false });
    t.deepEqual(out.problems.map(stable), [stable(problem)]);
    const human = await runCli(['status'], { env });
    t.regex(human.stdout, /^ {2}notifications +2 schools {2}\(last overdue-sync not read, below\)$/m, what);
    t.is((await runCli(['status', '--strict'], { env })).code, 1, what);
    t.is(await f.redis.client.get(lastRun), 'another program', `${what}: read, never written`);
  }
  // The lifetime a run gives it, to the second, is a run's: an age of 0.
  await f.redis.client.set(lastRun, new Date().toISOString(), 'EX', 7 * 86_400);
  const fresh = await getStatus(f.db, Promise.resolve(f.redis.client), options);
  t.true(fresh.healthy, fresh.problems.join('; '));
  t.true(recent((fresh.redis as RedisStatus).lastOverdueSyncSecondsAgo));
});
