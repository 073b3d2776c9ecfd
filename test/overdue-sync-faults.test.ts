/**
 * overdue-sync and notify-invalid under the faults operators meet (issue 13), as real
 * processes on real PostgreSQL and Redis, each test under its own schema and key prefix:
 * SIGKILL at points spread over the run, a run paused past its lock's lifetime while
 * another run starts and finishes, Redis restarted under a run, SIGTERM mid-run. After
 * each, the keys are compared with what a single clean run writes into empty keys of its
 * own, read as the admin app reads them.
 */
import { type AddressInfo, createConnection, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { LockLostError } from '../src/notifications/sync-journal.js';
import type { RedisClient } from '../src/redis/redis.js';
import { scanKeys } from '../src/redis/nodes.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { type CliResult, spawnCli } from './helpers/cli.js';
import { dialectsUnderTest, eachTarget, postgresUrl } from './helpers/databases.js';
import { type NotificationFixture, notificationFixture, readLikeMtc } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';
import { ownRedis } from './helpers/redis-server.js';

useRedisCluster();

/**
 * The PostgreSQL tests here spawn runs and time their signals: one at a time, so that on a
 * busy machine they do not starve each other (and each finishes well within AVA's timeout).
 */
function postgresOnly(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (dialectsUnderTest().includes('postgres')) test.serial(`${title} [postgres]`, fn);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `schools` schools of `pupils` pupils, each with a current live check logged into two days ago and received. */
async function seedWorld(f: NotificationFixture, schools: number, pupils: number): Promise<void> {
  const { knex } = f.db;
  await knex.raw(`INSERT INTO school ("urlSlug", name) SELECT gen_random_uuid(), 'School ' || k FROM generate_series(1, ?) k`, [schools]);
  await knex.raw(`INSERT INTO pupil (school_id, "urlSlug") SELECT s.id, gen_random_uuid() FROM school s CROSS JOIN generate_series(0, ?) j ORDER BY s.id, j`, [pupils - 1]);
  await knex.raw(
    `INSERT INTO "check" (pupil_id, "checkCode", "isLiveCheck", "pupilLoginDate", received, complete, "processingFailed")
     SELECT p.id, gen_random_uuid(), true, now() - interval '2 days', true, true, false FROM pupil p ORDER BY p.id`,
  );
  await knex.raw(`UPDATE pupil p SET "currentCheckId" = c.id FROM "check" c WHERE c.pupil_id = p.id`);
  // Only this test's tables: a bare ANALYZE would take locks on every test's tables.
  await knex.raw('ANALYZE school, pupil, "check"');
}

/**
 * Round r's concerns: about 70% of the schools, a window that moves a tenth along each
 * round (so each round some schools stop qualifying and others start). In a qualifying
 * school the first pupil is overdue, and the second failed processing in every third.
 */
async function setRound(f: NotificationFixture, round: number): Promise<void> {
  const { knex } = f.db;
  const [{ n, first }] = (await knex.raw('SELECT count(*)::int AS n, min(id) AS first FROM school')).rows as Array<{ n: number; first: number }>;
  const [{ per, firstPupil }] = (await knex.raw('SELECT (count(*) / count(DISTINCT school_id))::int AS per, min(id) AS "firstPupil" FROM pupil')).rows as Array<{ per: number; firstPupil: number }>;
  const qualifies = `((s.id - ${first} + ${round * Math.ceil(n / 10)}) % ${n}) < ${Math.floor(n * 0.7)}`;
  const received = `NOT (${qualifies} AND j.j = 0)`;
  const failed = `(${qualifies} AND j.j = 1 AND s.id % 3 = 0)`;
  await knex.raw(
    `UPDATE "check" c SET received = ${received}, "processingFailed" = ${failed}
     FROM pupil p JOIN school s ON s.id = p.school_id, LATERAL (SELECT (p.id - ${firstPupil}) % ${per} AS j) j
     WHERE c.id = p."currentCheckId" AND j.j <= 1 AND (c.received <> ${received} OR c."processingFailed" <> ${failed})`,
  );
}

interface Keys {
  prefix: string;
  index: string;
}

/** What the admin app sees under `prefix`, and the index: comparable between prefixes. */
interface KeyState {
  /** School → its lists (the creation time left out: it is the run's clock). */
  entries: Record<string, { processingErrorPupilUUIDs: string[]; overdueChecksUUIDs: string[] }>;
  index: string[];
  /** Keys under the prefix, or index keys, without a lifetime (there must be none). */
  withoutTtl: string[];
  /** The run's own keys left behind (lock, next, journal). */
  runKeys: string[];
}

async function keysUnder(client: RedisClient, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const page of scanKeys(client, `${prefix}*`)) found.push(...page.keys);
  return found.sort();
}

/** GET and TTL of every key: in one pipeline on one server, command by command on a cluster. */
async function valuesAndTtls(client: RedisClient, keys: readonly string[]): Promise<Array<[string | null, number]>> {
  if (client instanceof Redis) {
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.get(key).ttl(key);
    const replies = (await pipeline.exec())!.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    return keys.map((_, i) => [replies[2 * i] as string | null, replies[2 * i + 1] as number]);
  }
  return Promise.all(keys.map((key) => Promise.all([client.get(key), client.ttl(key)])));
}

async function keyState(client: RedisClient, keys: Keys): Promise<KeyState> {
  const entryKeys = await keysUnder(client, keys.prefix);
  const entries: KeyState['entries'] = {};
  const withoutTtl: string[] = [];
  const values = await valuesAndTtls(client, entryKeys);
  entryKeys.forEach((key, i) => {
    const [value, ttl] = values[i]!;
    if (ttl < 0) withoutTtl.push(key);
    const n = readLikeMtc(value!) as { schoolUUID: string; processingErrorPupilUUIDs: string[]; overdueChecksUUIDs: string[] };
    if (`${keys.prefix}${n.schoolUUID}` !== key) throw new Error(`${key} holds the notification of ${n.schoolUUID}`);
    entries[n.schoolUUID] = { processingErrorPupilUUIDs: n.processingErrorPupilUUIDs, overdueChecksUUIDs: n.overdueChecksUUIDs };
  });
  const index = (await client.smembers(keys.index)).sort();
  if (index.length > 0 && (await client.ttl(keys.index)) < 0) withoutTtl.push(keys.index);
  const runKeys: string[] = [];
  for (const suffix of [':lock', ':next', ':journal']) if ((await client.exists(`${keys.index}${suffix}`)) === 1) runKeys.push(`${keys.index}${suffix}`);
  return { entries, index, withoutTtl, runKeys };
}

/** Every key under the prefix and the index keys as stored, byte for byte. */
async function rawState(client: RedisClient, keys: Keys): Promise<Record<string, string | string[] | null>> {
  const state: Record<string, string | string[] | null> = {};
  const entryKeys = await keysUnder(client, keys.prefix);
  const values = await valuesAndTtls(client, entryKeys);
  entryKeys.forEach((key, i) => (state[key] = values[i]![0]));
  state[keys.index] = (await client.smembers(keys.index)).sort();
  for (const suffix of [':lock', ':next', ':journal']) state[`${keys.index}${suffix}`] = String(await client.exists(`${keys.index}${suffix}`));
  return state;
}

let refs = 0;

/** What one clean run writes on the database as it is now, into empty keys of its own. */
async function cleanRunState(f: NotificationFixture, client: RedisClient = f.redis.client): Promise<KeyState> {
  const n = ++refs;
  const keys = { prefix: `${f.redis.prefix}ref${n}:school.home.overdue:`, index: `${f.redis.prefix}{ref${n}}:notified` };
  const result = await overdueSync(f.db, client, { ...f.options, notificationPrefix: keys.prefix, notificationIndexKey: keys.index });
  if (result.skipped) throw new Error(result.skipped);
  const state = await keyState(client, keys);
  const own = [...(await keysUnder(client, keys.prefix)), keys.index, `${keys.index}:last-run`];
  if (client instanceof Redis) await client.unlink(...own);
  else await Promise.all(own.map((key) => client.unlink(key)));
  return state;
}

/** The test's keys equal a clean run's: the same schools, the same lists, the index listing exactly them. */
async function assertLikeCleanRun(t: ExecutionContext, f: NotificationFixture, what: string, client: RedisClient = f.redis.client): Promise<void> {
  const expected = await cleanRunState(f, client);
  const actual = await keyState(client, { prefix: f.options.notificationPrefix, index: f.options.notificationIndexKey });
  t.true(Object.keys(expected.entries).length > 0, 'the clean run notified some schools');
  t.deepEqual(actual, expected, what);
  t.deepEqual(actual.index, Object.keys(actual.entries).sort(), `${what}: the index lists exactly the schools with an entry`);
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

async function lockGone(client: RedisClient, f: NotificationFixture): Promise<void> {
  await waitUntil('the run lock is gone', async () => (await client.exists(`${f.options.notificationIndexKey}:lock`)) === 0, 10_000);
}

/** A second connection that holds an ACCESS EXCLUSIVE lock on "check" (the query waits on it) until released. */
async function blockChecks(t: ExecutionContext, f: NotificationFixture): Promise<{ release(): Promise<void> }> {
  const blocker = knexFactory({ client: 'pg', connection: postgresUrl, pool: { min: 1, max: 1 } });
  t.teardown(() => blocker.destroy());
  const trx = await blocker.transaction();
  await trx.raw(`LOCK TABLE "${f.tdb.config.databaseSchema}"."check" IN ACCESS EXCLUSIVE MODE`);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await trx.rollback();
  };
  t.teardown(release);
  return { release };
}

/** How many backends of the CLI's database role wait on a lock (the run's query, blocked). */
async function lockWaiters(f: NotificationFixture): Promise<number> {
  const role = new URL(f.tdb.env.DATABASE_URL!).username;
  const { rows } = await f.db.knex.raw("SELECT pid FROM pg_stat_activity WHERE usename = ? AND wait_event_type = 'Lock'", [role]);
  return (rows as unknown[]).length;
}

/** Waits until the run's query waits on the table lock. */
async function queryWaiting(f: NotificationFixture): Promise<void> {
  await waitUntil('the run\'s query waits on the table lock', async () => (await lockWaiters(f)) > 0);
}

/** Whether, within 5 s, no query of the run's role waits on a lock any more (a cancelled one ends at once). */
async function queryGone(f: NotificationFixture): Promise<boolean> {
  return waitUntil('no query waits on the table lock', async () => (await lockWaiters(f)) === 0, 5_000).then(
    () => true,
    () => false,
  );
}

/** Sends SIGTERM to a running CLI and waits for it: its result, and how long it took to exit. */
async function stopWithSigterm(run: ReturnType<typeof spawnCli>): Promise<{ r: CliResult; tookMs: number }> {
  const signalled = performance.now();
  run.child.kill('SIGTERM');
  const r = await run;
  return { r, tookMs: performance.now() - signalled };
}

function oneClearLine(t: ExecutionContext, r: CliResult, pattern: RegExp): void {
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, pattern);
  t.false(/\n\s+at |unexpected failure|Unhandled/.test(r.stderr), r.stderr);
}

/** The CLI's environment, logging debug lines as JSON; the run lock keeps its default lifetime unless given. */
function cliEnv(f: NotificationFixture, extra: Record<string, string> = {}): Record<string, string> {
  return { ...f.env, MTC_BATCH_LOG_FORMAT: 'json', MTC_BATCH_LOG_LEVEL: 'debug', ...extra };
}

/** A run lock of 1 s, for the run whose lock a test lets expire. */
const shortLock = { MTC_BATCH_OVERDUE_SYNC_LOCK_SECONDS: '1' };

const marks = {
  locked: /took the run lock/,
  queried: /read \d+ schools to notify/,
  wrote: /redis wrote \d+ entries/,
  finished: /redis removed them, swapped the index/,
};

/** How far a run got, from its debug lines. */
function phaseOf(stderr: string): string {
  if (marks.finished.test(stderr)) return 'after its final script';
  if (marks.wrote.test(stderr)) return 'between the pass\'s round trips';
  if (marks.queried.test(stderr)) return 'in the first round trip of the pass';
  if (marks.locked.test(stderr)) return 'during the query';
  return 'before taking the lock';
}

postgresOnly('overdue-sync killed (SIGKILL) at 20 points spread over its run: one more clean run leaves exactly what a single clean run writes', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  await seedWorld(f, 4_000, 4);
  let round = 0;
  await setRound(f, round);
  const env = cliEnv(f);

  // A clean run, timed from its debug lines: how long the query and the pass take here.
  const timing = spawnCli(['overdue-sync'], { env });
  const times: Record<string, number> = {};
  const started = performance.now();
  for (const [name, mark] of Object.entries(marks)) {
    await waitUntil(`the run logs ${name}: ${timing.stderr()}`, () => mark.test(timing.stderr()));
    times[name] = performance.now() - started;
  }
  const first = await timing;
  t.is(first.code, 0, first.stderr);
  const exitMs = performance.now() - started;
  const queryMs = Math.max(20, times.queried! - times.locked!);
  // The pass, to the log line after its final script, and a quarter more (the end of the run).
  const passMs = Math.max(20, (times.finished! - times.queried!) * 1.25);
  t.log(`clean run: lock taken at ${Math.round(times.locked!)} ms, query ${Math.round(queryMs)} ms, pass ${Math.round(times.finished! - times.queried!)} ms, exit at ${Math.round(exitMs)} ms`);

  const phases: string[] = [];
  const spent = { database: 0, victim: 0, repair: 0, compare: 0 };
  let mark = performance.now();
  const lap = (what: keyof typeof spent) => {
    spent[what] += performance.now() - mark;
    mark = performance.now();
  };
  // 20 kills that land inside the run (a run that finished first does not count), half
  // from the lock over the query and half from the query's end over the pass, each half
  // stratified over the span the clean run measured. On a loaded machine a run's timing
  // drifts: a kill that came too late shrinks that half's span, so the points keep
  // landing inside the run (at most 60 tries).
  const spans = [queryMs, passMs];
  for (let tries = 0, i = 0; i < 20 && tries < 60; tries++) {
    await setRound(f, ++round);
    lap('database');
    const victim = spawnCli(['overdue-sync'], { env });
    const half = i % 2;
    const from = half === 0 ? marks.locked : marks.queried;
    let exited = false;
    void victim.then(() => (exited = true));
    await waitUntil('the run gets to its starting point', () => exited || from.test(victim.stderr()));
    await sleep(((Math.floor(i / 2) + Math.random()) / 10) * spans[half]!);
    victim.child.kill('SIGKILL');
    const killed = await victim;
    const phase = killed.code === 0 ? 'finished before the kill' : phaseOf(victim.stderr());
    if (phase === 'finished before the kill') spans[half]! *= 0.7;
    else {
      phases.push(phase);
      i++;
    }
    lap('victim');

    // The database moves on, and once the dead run's lock is gone one clean run repairs.
    // The run is dead (its exit was awaited): deleting its lock is what its expiry does,
    // without waiting out its lifetime (the paused-run test below waits for a real expiry).
    await setRound(f, ++round);
    lap('database');
    await f.redis.client.del(`${f.options.notificationIndexKey}:lock`);
    const repair = await overdueSync(f.db, f.redis.client, f.options);
    t.falsy(repair.skipped);
    lap('repair');
    await assertLikeCleanRun(t, f, `after a kill ${phase} (try ${tries + 1}) and one clean run`);
    lap('compare');
  }
  t.is(phases.length, 20, `20 kills landed inside the run: ${JSON.stringify(phases)}`);
  t.log('time spent (ms):', Object.fromEntries(Object.entries(spent).map(([k, v]) => [k, Math.round(v)])));
  const counts = phases.reduce<Record<string, number>>((c, p) => ({ ...c, [p]: (c[p] ?? 0) + 1 }), {});
  t.log(counts);
  t.true((counts['during the query'] ?? 0) >= 3, JSON.stringify(counts));
  const inPass = phases.filter((p) => p.includes('round trip')).length;
  t.true(inPass >= 3, `kills in the Redis pass: ${JSON.stringify(counts)}`);
});

/**
 * A clean run at round 0, then, the database at round 1, a second run (with `extraEnv`)
 * held inside its query by a lock on the checks until `block.release()`.
 */
async function runHeldInQuery(t: ExecutionContext, f: NotificationFixture, env: Record<string, string>, extraEnv: Record<string, string> = {}) {
  const earlier = await spawnCli(['overdue-sync'], { env });
  t.is(earlier.code, 0, earlier.stderr);
  await setRound(f, 1);
  const block = await blockChecks(t, f);
  const run = spawnCli(['overdue-sync'], { env: { ...env, ...extraEnv } });
  await queryWaiting(f);
  return { block, run };
}

postgresOnly('overdue-sync paused (SIGSTOP) past its lock\'s lifetime while another run starts and finishes: it writes nothing more, exits 1 saying so, and the keys are the other run\'s', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  await seedWorld(f, 300, 3);
  await setRound(f, 0);
  const env = cliEnv(f);
  // The paused run's query has the database as it was at round 1.
  const { block, run: stale } = await runHeldInQuery(t, f, env, shortLock);
  stale.child.kill('SIGSTOP');
  await block.release();
  await lockGone(f.redis.client, f);

  await setRound(f, 2);
  const second = await spawnCli(['overdue-sync', '--json'], { env });
  t.is(second.code, 0, second.stderr);
  t.falsy(second.json().skipped);
  const keys = { prefix: f.options.notificationPrefix, index: f.options.notificationIndexKey };
  const afterSecond = await rawState(f.redis.client, keys);

  stale.child.kill('SIGCONT');
  const r = await stale;
  oneClearLine(t, r, /overdue-sync lost its lock .*:lock: it is gone or another run's \(not renewed within its 1 s lifetime.*it stopped without writing or removing anything more/);
  t.deepEqual(await rawState(f.redis.client, keys), afterSecond, 'every key as the second run left it');
  await assertLikeCleanRun(t, f, 'the keys are a clean run\'s of the database as it is');
});

postgresOnly('a run that takes longer than its lock\'s lifetime keeps renewing it: a second run meanwhile is skipped', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  await seedWorld(f, 200, 2);
  await setRound(f, 0);
  const env = cliEnv(f);
  const block = await blockChecks(t, f);
  // 4 s, renewed every 1.3 s, so a busy machine's pauses do not make it expire; waited
  // past twice that, so a lock that was never renewed would be gone.
  const long = spawnCli(['overdue-sync', '--json'], { env: { ...env, MTC_BATCH_OVERDUE_SYNC_LOCK_SECONDS: '4' } });
  t.teardown(() => long.child.kill('SIGKILL'));
  await queryWaiting(f);
  await sleep(9_000);
  // Were the lock lost, this run would take it and wait on the table lock: it must not.
  const second = await spawnCli(['overdue-sync', '--json'], { env, timeoutMs: 20_000 });
  t.is(second.code, 0, second.stderr);
  t.regex(String(second.json().skipped), /another overdue-sync holds/);
  await block.release();
  const r = await long;
  t.is(r.code, 0, r.stderr);
  t.falsy(r.json().skipped);
  await assertLikeCleanRun(t, f, 'after the long run');
});

type StalePoint = 'afterQuery' | 'beforeRemoval';

for (const point of ['afterQuery', 'beforeRemoval'] as StalePoint[]) {
  eachTarget(`a run whose lock is gone at ${point} (another run started and finished meanwhile) writes and removes nothing more: the keys are the other run's`, async (t, target) => {
    const f = await notificationFixture(t, target);
    const now = new Date();
    const staying = await seedSchool(f.db);
    await seedPupil(f.db, staying.id, { check: { loggedInMinutesAgo: 3000 } }, now);
    const leaving = await seedSchool(f.db);
    const leaver = await seedPupil(f.db, leaving.id, { check: { loggedInMinutesAgo: 3000 } }, now);
    const coming = await seedSchool(f.db);
    const comer = await seedPupil(f.db, coming.id, { check: { loggedInMinutesAgo: 3000, received: true } }, now);
    t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 2 });
    const keys = { prefix: f.options.notificationPrefix, index: f.options.notificationIndexKey };
    let afterSecond: Awaited<ReturnType<typeof rawState>> | undefined;

    const stale = overdueSync(f.db, f.redis.client, {
      ...f.options,
      now,
      hooks: {
        [point]: async () => {
          // The lock's lifetime passes (the process was paused), and the database moves on.
          await f.redis.client.del(`${f.options.notificationIndexKey}:lock`);
          await f.db.knex('check').where({ checkCode: leaver.checkCode }).update({ received: true });
          await f.db.knex('check').where({ checkCode: comer.checkCode }).update({ received: false });
          t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now: new Date(now.getTime() + 60_000) }), { schools: 2, removed: 1 });
          afterSecond = await rawState(f.redis.client, keys);
        },
      },
    });
    const err = await t.throwsAsync(stale, { instanceOf: LockLostError });
    t.regex(err!.message, /lost its lock/);
    t.deepEqual(await rawState(f.redis.client, keys), afterSecond!, 'every key as the second run left it');
    t.deepEqual(Object.keys((await keyState(f.redis.client, keys)).entries).sort(), [staying.urlSlug, coming.urlSlug].sort());
  });
}

eachTarget('notify-invalid while a stale run\'s lock has expired writes its entry directly, and the stale run coming back does not undo it', async (t, target) => {
  const f = await notificationFixture(t, target);
  const now = new Date();
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
  const stale = overdueSync(f.db, f.redis.client, {
    ...f.options,
    now,
    hooks: {
      afterQuery: async () => {
        await f.redis.client.del(`${f.options.notificationIndexKey}:lock`);
        await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now });
        t.is(await f.redis.client.exists(`${f.options.notificationIndexKey}:journal`), 0, 'no lock, no journal');
      },
    },
  });
  await t.throwsAsync(stale, { instanceOf: LockLostError });
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug]);
  t.true((await f.redis.client.sismember(f.options.notificationIndexKey, school.urlSlug)) === 1);
});

eachTarget('the journal lives as long as the renewed lock: notify-invalid early in a run longer than the lock\'s lifetime is replayed', async (t, target) => {
  const f = await notificationFixture(t, target);
  const now = new Date();
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
  const result = await overdueSync(f.db, f.redis.client, {
    ...f.options,
    now,
    overdueSyncLockSeconds: 2,
    hooks: {
      afterQuery: async () => {
        await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now });
        await sleep(3_500);
        t.is(await f.redis.client.llen(`${f.options.notificationIndexKey}:journal`), 1, 'the journal is still there');
      },
    },
  });
  // The snapshot did not see the check: the school's entry is removed as stale, then the journal's replay writes it again.
  t.like(result, { schools: 0, removed: 1 });
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug]);
});

/** A redis-server of the test's own with an append-only file, so a restart keeps its keys. */
async function persistentRedis(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-redis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await ownRedis(t, { args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1_000) });
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  return { server, client };
}

postgresOnly('Redis restarted empty while overdue-sync runs its query: it exits 1 with one line (its lock or its connection is gone), and the next run writes everything', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  const server = await ownRedis(t);
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1_000) });
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  await seedWorld(f, 300, 3);
  await setRound(f, 0);
  const env = cliEnv(f, { REDIS_URL: server.url });
  const { block, run } = await runHeldInQuery(t, f, env);
  await server.stop();
  await server.start();
  await block.release();
  // Back within the client's reconnects (about 1.2 s), it finds its lock gone; later, the connection is.
  oneClearLine(t, await run, /overdue-sync lost its lock|lost the connection to Redis/);

  const next = await spawnCli(['overdue-sync'], { env });
  t.is(next.code, 0, next.stderr);
  await assertLikeCleanRun(t, f, 'after the restart and one more run', client);
});

postgresOnly('Redis down when overdue-sync gets to its pass, back with its data later: exit 1 with one line, and the next run removes and rewrites what it must', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  const { server, client } = await persistentRedis(t);
  await seedWorld(f, 300, 3);
  await setRound(f, 0);
  const env = cliEnv(f, { REDIS_URL: server.url });
  const { block, run } = await runHeldInQuery(t, f, env, shortLock);
  await server.stop();
  await block.release();
  oneClearLine(t, await run, new RegExp(`lost the connection to Redis redis://127\\.0\\.0\\.1:${server.port}`));
  await server.start();
  t.true((await keysUnder(client, f.options.notificationPrefix)).length > 0, 'the restarted Redis kept the earlier run\'s entries');

  await setRound(f, 2);
  await lockGone(client, f);
  const next = await spawnCli(['overdue-sync'], { env });
  t.is(next.code, 0, next.stderr);
  await assertLikeCleanRun(t, f, 'after the outage and one more run', client);
});

postgresOnly('SIGTERM to overdue-sync during its query: it cancels the query, lets go of its lock, writes nothing, exits 1 within 10 s; the next run repairs', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  await seedWorld(f, 300, 3);
  await setRound(f, 0);
  const env = cliEnv(f);
  const earlier = await spawnCli(['overdue-sync'], { env });
  t.is(earlier.code, 0, earlier.stderr);
  const keys = { prefix: f.options.notificationPrefix, index: f.options.notificationIndexKey };
  const before = await rawState(f.redis.client, keys);

  await setRound(f, 1);
  // The query waits on a table lock the test never lets go of before the run exits.
  const block = await blockChecks(t, f);
  const run = spawnCli(['overdue-sync'], { env });
  await queryWaiting(f);
  const { r, tookMs } = await stopWithSigterm(run);
  t.true(tookMs < 10_000, `exited ${Math.round(tookMs)} ms after SIGTERM`);
  oneClearLine(t, r, /overdue-sync interrupted \(received SIGTERM\) before writing anything: lock released/);
  t.false(/deprecat|warning/i.test(r.stderr), `the cancel prints no library warning: ${r.stderr}`);
  t.true(await queryGone(f), 'the cancel reached the server: the query no longer runs');
  t.deepEqual(await rawState(f.redis.client, keys), { ...before }, 'nothing written, lock released');
  await block.release();

  const next = await spawnCli(['overdue-sync'], { env });
  t.is(next.code, 0, next.stderr);
  await assertLikeCleanRun(t, f, 'after the interrupted run and one more');
});

postgresOnly('SIGTERM to notify-invalid reading a long stream: it stops after a whole group within 10 s, every pupil it reported handled is notified, and a second run of the same input leaves what one clean run does', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  await seedWorld(f, 500, 6);
  const checks = (await f.db.knex.raw(`SELECT c."checkCode" AS code FROM "check" c ORDER BY c.id`)).rows as Array<{ code: string }>;
  const lines = checks.map((c) => JSON.stringify({ version: 1, checkCode: c.code, notificationType: 'checkInvalid' }));
  const input = `${lines.join('\n')}\n`;
  const env = cliEnv(f);

  // The first 2,500 lines, and the input left open as a producer that has more to send.
  const run = spawnCli(['notify-invalid', '--jsonl', '-', '--json'], { env, stdin: `${lines.slice(0, 2_500).join('\n')}\n`, keepStdinOpen: true });
  await waitUntil('two groups are handled', () => (run.stderr().match(/added \d+ pupils to \d+ school notifications/g) ?? []).length >= 2);
  const { r, tookMs } = await stopWithSigterm(run);
  t.true(tookMs < 10_000);
  t.is(r.code, 1, r.stderr);
  t.false(/\n\s+at |unexpected failure|Unhandled/.test(r.stderr), r.stderr);
  const result = r.json<{ handled: number; interruptedAfterLine: number }>();
  t.true(result.interruptedAfterLine >= 2_000, String(result.interruptedAfterLine));
  t.is(result.handled, result.interruptedAfterLine);
  // Every pupil of the lines it handled is in its school's notification.
  const handled = new Set(checks.slice(0, result.interruptedAfterLine).map((c) => c.code));
  const { rows } = await f.db.knex.raw(`SELECT s."urlSlug" AS school, p."urlSlug" AS pupil, c."checkCode" AS code FROM "check" c JOIN pupil p ON p.id = c.pupil_id JOIN school s ON s.id = p.school_id`);
  for (const row of rows as Array<{ school: string; pupil: string; code: string }>) {
    if (!handled.has(row.code)) continue;
    const entry = await f.read(row.school);
    if (!entry?.processingErrorPupilUUIDs.includes(row.pupil)) t.fail(`pupil ${row.pupil} of a handled line is not notified`);
  }

  const again = await spawnCli(['notify-invalid', '--jsonl', '-'], { env, stdin: input });
  t.is(again.code, 0, again.stderr);
  // One clean notify-invalid of the whole input into keys of its own.
  const ref = { prefix: `${f.redis.prefix}ref:school.home.overdue:`, index: `${f.redis.prefix}{ref}:notified` };
  const clean = await spawnCli(['notify-invalid', '--jsonl', '-'], { env: { ...env, MTC_BATCH_NOTIFICATION_PREFIX: ref.prefix, MTC_BATCH_NOTIFICATION_INDEX_KEY: ref.index }, stdin: input });
  t.is(clean.code, 0, clean.stderr);
  const actual = await keyState(f.redis.client, { prefix: f.options.notificationPrefix, index: f.options.notificationIndexKey });
  const expected = await keyState(f.redis.client, ref);
  t.is(Object.keys(expected.entries).length, 500);
  t.deepEqual(actual, expected);
  // And overdue-sync agrees: every pupil failed processing.
  await assertLikeCleanRun(t, f, 'notify-invalid\'s keys are what overdue-sync computes');
});

/** A loopback proxy to PostgreSQL passing the server's bytes on at about 200 KB/s: a slow link. */
async function slowPostgres(t: ExecutionContext): Promise<{ port: number }> {
  const target = new URL(postgresUrl);
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const next = queue.shift();
      if (!next || client.destroyed) return;
      client.write(next);
      timer = setTimeout(pump, 20);
    };
    upstream.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i += 4_096) queue.push(chunk.subarray(i, i + 4_096));
      timer ??= setTimeout(pump, 0);
    });
    const end = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    for (const side of [client, upstream]) {
      side.on('close', end);
      side.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port };
}

postgresOnly('SIGTERM while the rows come over a slow link: it stops at once (the connection is closed, not read to the end), writing nothing', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  // Enough rows (~1.5 MB) to take seconds through the link.
  await seedWorld(f, 12_000, 3);
  await setRound(f, 0);
  const link = await slowPostgres(t);
  const url = new URL(f.env.DATABASE_URL!);
  url.port = String(link.port);
  const run = spawnCli(['overdue-sync'], { env: cliEnv(f, { DATABASE_URL: url.toString() }) });
  await waitUntil('the run holds its lock', () => marks.locked.test(run.stderr()));
  // The rows take seconds to come through the link: stop it while they do.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.false(marks.queried.test(run.stderr()), 'still reading rows when stopped');
  const { r, tookMs } = await stopWithSigterm(run);
  t.true(tookMs < 2_000, `exited ${Math.round(tookMs)} ms after SIGTERM`);
  oneClearLine(t, r, /overdue-sync interrupted \(received SIGTERM\) before writing anything: lock released/);
  t.deepEqual(await keysUnder(f.redis.client, f.options.notificationPrefix), []);
  t.is(await f.redis.client.exists(`${f.options.notificationIndexKey}:lock`), 0);
});
