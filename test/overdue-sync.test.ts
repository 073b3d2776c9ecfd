import { overdueSync } from '../src/notifications/overdue-sync.js';
import { seedOverdueSchools, seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { groupByNode } from '../src/redis/nodes.js';
import { clusterOnly, eachDialect, eachTarget } from './helpers/databases.js';
import { notificationFixture } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { runCli } from './helpers/cli.js';
import { Redis } from 'ioredis';

useRedisCluster();

const now = new Date('2026-03-02T10:00:00.000Z');
const second = 1 / 60;

eachTarget('overdue: logged in before the cutoff, live, not received, current, no attendance code', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const p = (check: Parameters<typeof seedPupil>[2]) => seedPupil(f.db, school.id, check, now);
  const justBefore = await p({ check: { loggedInMinutesAgo: 1440 + second } });
  const atCutoff = await p({ check: { loggedInMinutesAgo: 1440 } });
  const justAfter = await p({ check: { loggedInMinutesAgo: 1440 - second } });
  const received = await p({ check: { loggedInMinutesAgo: 3000, received: true } });
  const notLive = await p({ check: { loggedInMinutesAgo: 3000, isLiveCheck: false } });
  const neverLoggedIn = await p({ check: {} });
  const restarted = await p({ restartedFrom: { loggedInMinutesAgo: 3000 }, check: {} });
  const excused = await p({ check: { loggedInMinutesAgo: 3000 }, attendance: true });
  const result = await overdueSync(f.db, f.redis.client, { ...f.options, now });
  t.like(result, { schools: 1, overdueChecks: 1, processingErrors: 0, removed: 0 });
  const n = await f.read(school.urlSlug);
  t.deepEqual(n, { schoolUUID: school.urlSlug, dateTimeCreated: now.toISOString(), processingErrorPupilUUIDs: [], overdueChecksUUIDs: [justBefore.checkCode] });
  const listed = JSON.stringify(n);
  for (const other of [atCutoff, justAfter, received, notLive, neverLoggedIn, restarted, excused]) t.false(listed.includes(other.checkCode));
  t.false(listed.includes(restarted.previousCheckCode!));
});

eachTarget('processing errors: the current check failed, no attendance code; a restart or an attendance code ends it', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const failed = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5, processingFailed: true, received: true } }, now);
  const failedThenRestarted = await seedPupil(f.db, school.id, { restartedFrom: { loggedInMinutesAgo: 5, processingFailed: true }, check: {} }, now);
  const failedExcused = await seedPupil(f.db, school.id, { check: { processingFailed: true }, attendance: true }, now);
  const both = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000, processingFailed: true } }, now);
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 1, overdueChecks: 1, processingErrors: 2 });
  const n = await f.read(school.urlSlug);
  t.deepEqual(n?.processingErrorPupilUUIDs, [failed.urlSlug, both.urlSlug].sort());
  t.deepEqual(n?.overdueChecksUUIDs, [both.checkCode]);
  for (const pupil of [failedThenRestarted, failedExcused]) t.false(JSON.stringify(n).includes(pupil.urlSlug));
});

eachTarget('entries have the TTL; schools that drop out are removed; other keys are never touched', async (t, target) => {
  const f = await notificationFixture(t, target);
  const stays = await seedSchool(f.db);
  const dropsOut = await seedSchool(f.db);
  const quiet = await seedSchool(f.db);
  await seedPupil(f.db, stays.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const leaving = await seedPupil(f.db, dropsOut.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  await seedPupil(f.db, quiet.id, { check: { loggedInMinutesAgo: 3000, received: true } }, now);
  const bystanders: Array<[string, string]> = [
    [`${f.redis.prefix}unrelated`, 'keep me'],
    // Under the prefix but never written by overdue-sync: not in its index, so not its to remove.
    [`${f.options.notificationPrefix}written-by-someone-else`, '{}'],
  ];
  for (const [key, value] of bystanders) await f.redis.client.set(key, value);

  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 2, removed: 0 });
  const ttl = await f.redis.client.ttl(`${f.options.notificationPrefix}${stays.urlSlug}`);
  t.true(ttl > 3890 && ttl <= 3900, String(ttl));
  t.is(await f.read(quiet.urlSlug), null, 'a school with nothing to report has no entry');

  await f.db.knex('check').where({ checkCode: leaving.checkCode }).update({ received: true });
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 1, removed: 1 });
  t.is(await f.read(dropsOut.urlSlug), null);
  t.truthy(await f.read(stays.urlSlug));
  for (const [key, value] of bystanders) t.is(await f.redis.client.get(key), value, key);
  t.deepEqual(await f.redis.client.smembers(f.options.notificationIndexKey), [stays.urlSlug]);

  await f.db.knex('pupil').update({ attendanceId: 3 });
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 0, removed: 1 });
  t.is(await f.read(stays.urlSlug), null);
  t.is(await f.redis.client.exists(f.options.notificationIndexKey), 0);
  // Only the bystanders and the time of the last run remain under the test prefix: no
  // temporary sets, journal or lock left behind.
  t.deepEqual((await f.redis.keys()).sort(), [...bystanders.map(([key]) => key), `${f.options.notificationIndexKey}:last-run`].sort());
});

eachTarget('--dry-run reports what it would write and remove, and writes nothing', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  await f.redis.client.sadd(f.options.notificationIndexKey, 'gone-school');
  const result = await overdueSync(f.db, f.redis.client, { ...f.options, now, dryRun: true });
  t.like(result, { schools: 1, removed: 1, wouldRemove: [`${f.options.notificationPrefix}gone-school`] });
  t.is(result.wouldWrite?.[0]?.key, `${f.options.notificationPrefix}${school.urlSlug}`);
  t.true(result.wouldWrite?.[0]?.value.includes(pupil.checkCode));
  t.is(await f.read(school.urlSlug), null);
  t.deepEqual(await f.redis.client.smembers(f.options.notificationIndexKey), ['gone-school']);
});

eachTarget("--dry-run counts a crashed run's \"next\" as notified, as the run does, and refuses a bookkeeping key of another type as the run does", async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const index = f.options.notificationIndexKey;
  const client = f.redis.client;
  // A run killed after it listed its schools in "next": the next run folds them into the index.
  await client.sadd(`${index}:next`, 'crashed-run-school');
  const result = await overdueSync(f.db, client, { ...f.options, now, dryRun: true });
  t.like(result, { removed: 1, wouldRemove: [`${f.options.notificationPrefix}crashed-run-school`] });
  t.deepEqual(await client.smembers(`${index}:next`), ['crashed-run-school'], 'nothing written');
  await client.del(`${index}:next`);
  for (const [key, type, expected, write] of [
    [index, 'string', 'set', () => client.set(index, 'another program')],
    [`${index}:next`, 'list', 'set', () => client.rpush(`${index}:next`, 'another program')],
    [`${index}:journal`, 'hash', 'list', () => client.hset(`${index}:journal`, 'owner', 'another program')],
    [`${index}:last-run`, 'hash', 'string', () => client.hset(`${index}:last-run`, 'owner', 'another program')],
  ] as const) {
    await write();
    const err = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now, dryRun: true }));
    t.is(err?.message, `WRONGTYPE the key ${key} holds a ${type}, not a ${expected}`);
    t.is(await client.type(key), type);
    await client.del(key);
  }
});

eachTarget("items in the journal that are not a school's id (another program's) are not listed in the index", async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const index = f.options.notificationIndexKey;
  await f.redis.client.rpush(`${index}:journal`, 'garbage', '{"s":"x"}', 'A0000000-0000-4000-8000-000000000001 pupil');
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 1 });
  t.deepEqual(await f.redis.client.smembers(index), [school.urlSlug]);
  t.is(await f.redis.client.exists(`${index}:journal`), 0, 'the journal is read and dropped');
});

eachTarget('a run that finds another one holding the lock does nothing', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  await f.redis.client.set(`${f.options.notificationIndexKey}:lock`, 'someone-else', 'PX', 60_000);
  const result = await overdueSync(f.db, f.redis.client, { ...f.options, now });
  t.regex(result.skipped ?? '', /another overdue-sync holds/);
  t.is(await f.read(school.urlSlug), null);
});

eachTarget('a lock key without a lifetime (not one a run wrote) is a configuration error naming it, not a skip forever', async (t, target) => {
  const f = await notificationFixture(t, target);
  const lock = `${f.options.notificationIndexKey}:lock`;
  for (const write of [() => f.redis.client.set(lock, 'foreign'), () => f.redis.client.rpush(lock, 'x')]) {
    await f.redis.client.del(lock);
    await write();
    const err = await t.throwsAsync(overdueSync(f.db, f.redis.client, { ...f.options, now }));
    t.is((err as { exitCode?: number }).exitCode, 2);
    t.regex(err?.message ?? '', /holds a (value|list) without a lifetime, which overdue-sync never writes.*MTC_BATCH_NOTIFICATION_INDEX_KEY/);
  }
});

eachTarget('a lock no run wrote (a value without a lifetime, or another type) is refused by --dry-run as by the run: the same message, exit 2, nothing written', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const lock = `${f.options.notificationIndexKey}:lock`;
  const client = f.redis.client;
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a string without a lifetime', () => client.set(lock, 'another program'), /holds a value without a lifetime, which overdue-sync never writes/],
    ['a hash without a lifetime', () => client.hset(lock, 'owner', 'another program'), /holds a hash without a lifetime, which overdue-sync never writes/],
    ['a string living longer than any run gives its lock', () => client.set(lock, 'another program', 'PX', 90_000_000), /holds a value with a lifetime longer than any run gives its lock \(at most 86400 s\)/],
    // With a lifetime it still is no run's lock: the run said "another overdue-sync holds it".
    ['a hash with a lifetime', () => client.multi().hset(lock, 'owner', 'another program').pexpire(lock, 60_000).exec(), /holds a hash, which overdue-sync never writes \(its lock is a string with a lifetime\)/],
  ];
  for (const [what, write, words] of cases) {
    await client.del(lock);
    await write();
    const run = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now }));
    const dry = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now, dryRun: true }));
    t.regex(run?.message ?? '', words, what);
    t.true(run?.message.startsWith(`the key ${lock} holds a `), what);
    t.true(run?.message.endsWith('delete that key if nothing else uses it, or give mtc-batch its own MTC_BATCH_NOTIFICATION_INDEX_KEY'), what);
    t.is(dry?.message, run?.message, `${what}: the dry run refuses as the run does`);
    t.is((dry as { exitCode?: number }).exitCode, 2, what);
    t.is((run as { exitCode?: number }).exitCode, 2, what);
    t.deepEqual(await f.redis.keys(), [lock], `${what}: nothing written, the key left as it was`);

    const cli = await runCli(['overdue-sync', '--dry-run', '--json'], { env: f.env });
    t.is(cli.code, 2, `${what}: ${cli.stdout}`);
    t.is(cli.json<{ error: { message: string } }>().error.message, run?.message, what);
  }
  // A run's lock (a string with a lifetime) is no refusal: that run ends, and the next one
  // writes what the dry run reports.
  await client.del(lock);
  await client.set(lock, 'another run', 'PX', 60_000);
  const held = await overdueSync(f.db, client, { ...f.options, now, dryRun: true });
  t.like(held, { schools: 1 });
  // It says that a run started now would do nothing, as the run below does.
  t.regex(held.lockHeld ?? '', new RegExp(`^another overdue-sync holds ${lock.replace(/[{}]/g, '\\$&')} \\(for \\d+ s more\\): a run started now would do nothing`));
  const human = await runCli(['overdue-sync', '--dry-run'], { env: { ...f.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^note: another overdue-sync holds .* a run started now would do nothing; this is what the next one would write$/m);
  t.regex((await overdueSync(f.db, client, { ...f.options, now })).skipped ?? '', /another overdue-sync holds/);
  await client.del(lock);
  t.is((await overdueSync(f.db, client, { ...f.options, now, dryRun: true })).lockHeld, undefined, 'no lock, no note');
});

clusterOnly("on a cluster (always the scripts' way): a bookkeeping key of another type is refused in the first script, before any entry is written, and left as it was", async (t, target) => {
  const f = await notificationFixture(t, target);
  await seedOverdueSchools(f.db, 300, 1, now);
  const index = f.options.notificationIndexKey;
  const client = f.redis.client;
  const cases: Array<{ key: string; type: string; expected: string; write: () => Promise<unknown> }> = [
    { key: index, type: 'string', expected: 'set', write: () => client.set(index, 'another program') },
    { key: `${index}:next`, type: 'string', expected: 'set', write: () => client.set(`${index}:next`, 'another program') },
    { key: `${index}:journal`, type: 'hash', expected: 'list', write: () => client.hset(`${index}:journal`, 'owner', 'another program') },
    { key: `${index}:last-run`, type: 'list', expected: 'string', write: () => client.rpush(`${index}:last-run`, 'another', 'program') },
    { key: `${index}:last-run`, type: 'hash', expected: 'string', write: () => client.hset(`${index}:last-run`, 'owner', 'another program') },
  ];
  for (const c of cases) {
    const what = `${c.key} holding a ${c.type}`;
    await c.write();
    const dump = await client.dumpBuffer(c.key);
    const err = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now }));
    t.is(err?.message, `WRONGTYPE the key ${c.key} holds a ${c.type}, not a ${c.expected}`, what);
    t.is(await client.type(c.key), c.type, what);
    t.deepEqual(await client.dumpBuffer(c.key), dump, `${what}: its value unchanged`);
    t.is(await client.ttl(c.key), -1, `${what}: its lifetime untouched`);
    t.deepEqual(await f.redis.keys(), [c.key], `${what}: no entry, index, "next" or lock left`);
    await client.del(c.key);
  }
  t.like(await overdueSync(f.db, client, { ...f.options, now }), { schools: 300 });
});

eachDialect('Redis failing midway: the run fails, and the next run repairs everything', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  const first = await seedOverdueSchools(f.db, 5_000, 1, now);
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 5_000 });
  // The next day 3,000 of those schools are done, and 3,000 new ones qualify.
  await f.db.knex('check').whereIn('pupil_id', f.db.knex('pupil').select('id').whereIn('school_id', f.db.knex('school').select('id').whereIn('urlSlug', first.slice(0, 3_000)))).update({ received: true });
  const second = await seedOverdueSchools(f.db, 3_000, 1, now);

  const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: Number(new URL(f.redis.url).port || 6379), cutAfterBytes: 300_000 });
  t.teardown(() => proxy.close());
  const flaky = new Redis(proxy.url(), { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  flaky.on('error', () => undefined);
  await flaky.connect();
  await t.throwsAsync(overdueSync(f.db, flaky, { ...f.options, now }));
  flaky.disconnect();
  t.true(proxy.forwardedBytes > 300_000, 'the connection was cut in the middle of the pass');
  t.true((await f.redis.client.scard(f.options.notificationIndexKey)) > 0);
  // The failed run left the lock: the next run waits it out (expired here) and repairs.
  await f.redis.client.del(`${f.options.notificationIndexKey}:lock`);

  const repaired = await overdueSync(f.db, f.redis.client, { ...f.options, now });
  const expected = new Set([...first.slice(3_000), ...second]);
  t.like(repaired, { schools: 5_000, removed: 3_000 });
  t.deepEqual((await f.redis.client.smembers(f.options.notificationIndexKey)).sort(), [...expected].sort());
  for (const school of first.slice(0, 3_000)) {
    if ((await f.read(school)) !== null) return t.fail(`stale entry left for ${school}`);
  }
  for (const school of expected) {
    if ((await f.read(school)) === null) return t.fail(`no entry for ${school}`);
  }
});

clusterOnly('in a cluster, entries on every master are written and removed node by node', async (t, target) => {
  const f = await notificationFixture(t, target);
  const schools = await seedOverdueSchools(f.db, 300, 1, now);
  const key = (school: string) => `${f.options.notificationPrefix}${school}`;
  const nodes = groupByNode(f.redis.client, schools, key);
  t.is(nodes.length, 3, 'the school entries live on all three masters');
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 300, removed: 0 });
  for (const { node, items } of nodes) {
    // Read back from the node itself: every entry it serves is there, with its TTL.
    const values = await Promise.all(items.map((school) => node.get(key(school))));
    t.true(values.every((v) => v !== null), `${node.options.port}: every entry written`);
    t.true((await node.ttl(key(items[0]!))) > 0);
  }
  const leaving = nodes.flatMap(({ items }) => items.slice(0, 20));
  await f.db.knex('check').whereIn('pupil_id', f.db.knex('pupil').select('id').whereIn('school_id', f.db.knex('school').select('id').whereIn('urlSlug', leaving))).update({ received: true });
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 240, removed: 60 });
  for (const school of leaving) t.is(await f.read(school), null);
  t.is(await f.redis.client.scard(f.options.notificationIndexKey), 240);
  t.is((await f.redis.keys()).length, 242, '240 entries, the index and the last run\'s time; no lock, journal or temporary set left');
});
