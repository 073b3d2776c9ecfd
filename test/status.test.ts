import { getStatus } from '../src/status/status.js';
import { runCli } from './helpers/cli.js';
import { eachDialect, migratedDatabase } from './helpers/databases.js';
import { closedPort } from './helpers/net.js';
import { isolatedRedis } from './helpers/redis.js';

const course = '22222222-2222-4222-8222-222222222222';
const user = (i: number) => `11111111-1111-4111-8111-${String(i).padStart(12, '0')}`;

eachDialect('status counts the queue, lists failures, spots rows past their lease, and reads Redis without scanning', async (t, dialect) => {
  const { db, tdb } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const options = { leaseSeconds: 600, busKey: `${redis.prefix}bus`, notificationIndexKey: `${redis.prefix}{o}:notified`, notificationTtlSeconds: 3900 };
  const now = Date.now();
  const rows: Array<[number, string | null, number, string | null]> = [
    [1, null, now - 3600_000, null],
    [2, null, now, null],
    [3, 'dispatched', now - 3600_000, null],
    [4, 'processing', now, null],
    [5, 'failed', now - 7200_000, 'storing content failed: disk full'],
    [6, 'failed', now, 'computing content failed: timeout'],
  ];
  await db.knex('rescope_queue').insert(
    rows.map(([i, status, at, error]) => ({
      user_id: user(i), course_id: course, source: 'oob', priority: 1, status, attempts: status === 'failed' ? 5 : 0,
      last_error: error, created_at: new Date(at), updated_at: new Date(at), available_at: new Date(at),
    })),
  );
  await db.knex('rescoped_content').insert({ user_id: user(7), course_id: course, skipped_content: '{}' });
  await redis.client.rpush(options.busKey, '3', '4');
  await redis.client.sadd(options.notificationIndexKey, 'a', 'b', 'c');
  // overdue-sync ended two minutes ago.
  await redis.client.set(`${options.notificationIndexKey}:last-run`, new Date(Date.now() - 120_000).toISOString(), 'EX', 7 * 86_400 - 120);

  const status = await getStatus(db, Promise.resolve(redis.client), options);
  t.deepEqual(status.queue, { queued: 2, dispatched: 1, processing: 1, failed: 2 });
  t.true(Math.abs((status.oldestQueuedAgeSeconds ?? 0) - 3600) < 60);
  t.is(status.pastLease, 1);
  t.is(status.rescopedContent, 1);
  t.deepEqual(status.failedRows.map((f) => [f.userId, f.lastError]), [[user(5), 'storing content failed: disk full'], [user(6), 'computing content failed: timeout']]);
  t.like(status.redis, { bus: 2, notifications: 3 });
  t.true(Math.abs(((status.redis as { lastOverdueSyncSecondsAgo: number }).lastOverdueSyncSecondsAgo) - 120) <= 2);
  t.false(status.healthy);
  t.is(status.problems.length, 3);
  t.regex(status.problems.join('\n'), /2 queue rows failed after their last attempt and wait[^]*1 row dispatched or processing past its 600 s lease[^]*oldest due queued row has waited/);

  const human = await runCli(['status'], { env: { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: options.busKey, MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey } });
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^  failed +2$/m);
  // The row past its lease is dispatched: the processing line counts processing rows alone.
  t.regex(human.stdout, /^  processing +1$/m);
  t.regex(human.stdout, /^  in flight past lease +1  \(dispatched or processing; dispatch puts them back\)$/m);
  t.regex(human.stdout, /#\d+ learner .* 5 attempts: storing content failed: disk full/);
  t.regex(human.stdout, /notifications +3 schools {2}\(overdue-sync 2m \d+s ago\)/);
  t.regex(human.stdout, /NOT healthy:\n {2}- 2 queue rows failed/);
  // For probes and smoke tests: not healthy is a failure with --strict.
  const strict = await runCli(['status', '--strict', '--json'], { env: { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: options.busKey, MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey } });
  t.is(strict.code, 1);
  t.like(strict.json(), { healthy: false });
});

eachDialect('a quiet system is healthy; an unreachable Redis is reported with the database part, exit 1', async (t, dialect) => {
  const { db, tdb } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const options = { leaseSeconds: 600, busKey: `${redis.prefix}bus`, notificationIndexKey: `${redis.prefix}{o}:notified`, notificationTtlSeconds: 3900 };
  const healthy = await getStatus(db, Promise.resolve(redis.client), options);
  t.true(healthy.healthy, healthy.problems.join('; '));
  t.like(healthy.redis, { bus: 0, notifications: 0, lastOverdueSyncSecondsAgo: null });
  const strictHealthy = await runCli(['status', '--strict'], { env: { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: options.busKey, MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey } });
  t.is(strictHealthy.code, 0, strictHealthy.stdout);

  const port = await closedPort();
  const r = await runCli(['status', '--json'], { env: { ...tdb.env, REDIS_URL: `redis://127.0.0.1:${port}` } });
  t.is(r.code, 1);
  const out = r.json<{ queue: object; healthy: boolean; problems: string[] }>();
  t.deepEqual(out.queue, { queued: 0, dispatched: 0, processing: 0, failed: 0 });
  t.false(out.healthy);
  t.regex(out.problems[0] ?? '', new RegExp(`cannot connect to Redis redis://127.0.0.1:${port}`));
});

/** A status run's output, read both ways with and without --strict. */
async function statusRuns(env: Record<string, string>) {
  return {
    human: await runCli(['status'], { env }),
    json: await runCli(['status', '--json'], { env }),
    strict: await runCli(['status', '--strict'], { env }),
    strictJson: await runCli(['status', '--strict', '--json'], { env }),
  };
}

const indexSetting = "(MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey)";
const busSetting = "(MTC_BATCH_BUS_KEY, --bus-key or a config file's busKey)";

eachDialect('an index or bus key of another Redis type is a problem naming the key, its type, the type it should hold and its setting; every other figure is still reported', async (t, dialect) => {
  const { tdb } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const bus = `${redis.prefix}bus`;
  const index = `${redis.prefix}{o}:notified`;
  const env = { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: bus, MTC_BATCH_NOTIFICATION_INDEX_KEY: index };
  // overdue-sync ended two minutes ago; status reads that from a key of its own.
  await redis.client.set(`${index}:last-run`, new Date().toISOString(), 'EX', 7 * 86_400 - 120);
  const written = Date.now();
  const cases = [
    { key: index, type: 'string', write: () => redis.client.set(index, 'another program'), expected: 'set', setting: indexSetting, bus: 3, notifications: null },
    { key: index, type: 'list', write: () => redis.client.rpush(index, 'a', 'b'), expected: 'set', setting: indexSetting, bus: 3, notifications: null },
    { key: bus, type: 'hash', write: () => redis.client.hset(bus, 'owner', 'another program'), expected: 'list', setting: busSetting, bus: null, notifications: 2 },
  ];
  for (const c of cases) {
    const what = `${c.key} holding a ${c.type}`;
    await redis.client.del(bus, index);
    if (c.bus !== null) await redis.client.rpush(bus, '1', '2', '3');
    if (c.notifications !== null) await redis.client.sadd(index, 's1', 's2');
    await c.write();
    const problem = `the Redis key ${c.key} holds a ${c.type}, not a ${c.expected}`;
    const runs = await statusRuns(env);

    // Informational without --strict: the problem is reported, not an unexpected failure.
    t.is(runs.human.code, 0, `${what}: ${runs.human.stdout}${runs.human.stderr}`);
    t.is(runs.json.code, 0, `${what}: ${runs.json.stdout}${runs.json.stderr}`);
    // --strict fails the check, as for any problem.
    t.is(runs.strict.code, 1, what);
    t.is(runs.strictJson.code, 1, what);

    for (const run of [runs.human, runs.strict]) {
      t.false(/^ {2}redis /m.test(run.stdout), `${what}: Redis was reached, not "failed": ${run.stdout}`);
      t.regex(run.stdout, /^ {2}rescoped content +0$/m, what);
      if (c.bus !== null) t.regex(run.stdout, /^ {2}bus +3 ids$/m, `${what}: the bus is still counted: ${run.stdout}`);
      else t.regex(run.stdout, /^ {2}notifications +2 schools {2}\(overdue-sync 2m \d+s ago\)$/m, `${what}: ${run.stdout}`);
      t.regex(run.stdout, /^NOT healthy:$/m, what);
      const line = run.stdout.split('\n').find((l) => l.includes(problem));
      t.truthy(line, `${what}: ${run.stdout}`);
      t.true(line!.includes(c.setting), `${what}: names its setting: ${line}`);
      t.false(run.stdout.includes('unreachable'), what);
    }
    for (const run of [runs.json, runs.strictJson]) {
      const out = run.json<{ redis: Record<string, unknown>; healthy: boolean; problems: string[] }>();
      t.like(out.redis, { bus: c.bus, notifications: c.notifications }, what);
      const ago = out.redis.lastOverdueSyncSecondsAgo as number;
      // Twelve CLI runs come before the last reading; on a loaded machine they take seconds.
      const most = 120 + Math.ceil((Date.now() - written) / 1000) + 1;
      t.true(ago >= 120 && ago <= most, `${what}: the last run is still read: ${ago}, expected 120 to ${most}`);
      t.false(out.healthy, what);
      const found = out.problems.filter((p) => p.includes(problem));
      t.is(found.length, 1, `${what}: ${JSON.stringify(out.problems)}`);
      t.true(found[0]!.includes(c.setting), found[0]);
    }
  }
});

eachDialect('the oldest queued age counts only rows that are due, from when they became due: back-off and re-queued rows raise no alarm', async (t, dialect) => {
  const { db } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const options = { leaseSeconds: 600, busKey: `${redis.prefix}bus`, notificationIndexKey: `${redis.prefix}{o}:notified`, notificationTtlSeconds: 3900 };
  const now = Date.now();
  const row = (i: number, createdAgo: number, dueIn: number) => ({
    user_id: user(i), course_id: course, source: 'oob', priority: 1, status: null, attempts: 1,
    created_at: new Date(now - createdAgo * 1000), updated_at: new Date(now), available_at: new Date(now + dueIn * 1000),
  });
  // Created hours ago, but in retry back-off for another hour; and one re-queued just now.
  await db.knex('rescope_queue').insert([row(1, 7200, 3600), row(2, 10_800, 0)]);
  const quiet = await getStatus(db, Promise.resolve(redis.client), options);
  t.is(quiet.queue.queued, 2);
  t.true((quiet.oldestQueuedAgeSeconds ?? Infinity) <= 5, `got ${quiet.oldestQueuedAgeSeconds}`);
  t.true(quiet.healthy, quiet.problems.join('; '));

  // A row due for 20 minutes is behind, however recently it was created.
  await db.knex('rescope_queue').insert(row(3, 60, -1200));
  const behind = await getStatus(db, Promise.resolve(redis.client), options);
  t.true(Math.abs((behind.oldestQueuedAgeSeconds ?? 0) - 1200) < 30, `got ${behind.oldestQueuedAgeSeconds}`);
  t.false(behind.healthy);
  t.regex(behind.problems.join('\n'), /oldest due queued row has waited/);

  const none = await getStatus(db, Promise.resolve(redis.client), options);
  await db.knex('rescope_queue').del();
  t.not(none.oldestQueuedAgeSeconds, null);
  t.is((await getStatus(db, Promise.resolve(redis.client), options)).oldestQueuedAgeSeconds, null);
});

eachDialect('status --strict: not healthy when overdue-sync has not run for longer than the notification TTL', async (t, dialect) => {
  const { db, tdb } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const options = { leaseSeconds: 600, busKey: `${redis.prefix}bus`, notificationIndexKey: `${redis.prefix}{o}:notified`, notificationTtlSeconds: 3900 };
  const env = { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: options.busKey, MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey };
  const lastRun = `${options.notificationIndexKey}:last-run`;
  const ranAgo = (seconds: number) => redis.client.set(lastRun, new Date(Date.now() - seconds * 1000).toISOString(), 'EX', 7 * 86_400 - seconds);

  // Within the TTL: healthy.
  await redis.client.sadd(options.notificationIndexKey, 'a');
  await ranAgo(3_000);
  t.true((await getStatus(db, Promise.resolve(redis.client), options)).healthy);
  t.is((await runCli(['status', '--strict'], { env })).code, 0);

  // Longer ago than the TTL: a problem, exit 1 with --strict, and the TTL setting is the one used.
  await ranAgo(4_000);
  const stale = await getStatus(db, Promise.resolve(redis.client), options);
  t.false(stale.healthy);
  t.deepEqual(stale.problems.length, 1);
  t.regex(stale.problems[0]!, /^overdue-sync has not run for longer than the notification TTL: it last succeeded 400\d s ago, and entries live 3900 s/);
  const strict = await runCli(['status', '--strict', '--json'], { env });
  t.is(strict.code, 1);
  t.like(strict.json(), { healthy: false });
  t.is((await runCli(['status'], { env })).code, 0, 'without --strict only Redis being unreachable fails');
  t.is((await runCli(['status', '--strict', '--ttl-seconds', '5000'], { env })).code, 0, 'a longer TTL');

  // No successful run for a week (the key expired) while schools are listed: a problem too.
  await redis.client.del(lastRun);
  const gone = await getStatus(db, Promise.resolve(redis.client), options);
  t.regex(gone.problems.join('\n'), /overdue-sync has not run for longer than the notification TTL: no successful run for 7 days \(or ever\), yet 1 school is listed/);
  // Nothing listed and no run: a system that has not started notifying is healthy.
  await redis.client.del(options.notificationIndexKey);
  t.true((await getStatus(db, Promise.resolve(redis.client), options)).healthy);
});

eachDialect('status names the schema it read, in its header and its JSON, so two schemas of one database never look alike', async (t, dialect) => {
  const { tdb } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t);
  const env = { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: `${redis.prefix}bus`, MTC_BATCH_NOTIFICATION_INDEX_KEY: `${redis.prefix}{o}:notified` };
  const schema = tdb.config.databaseSchema;
  const human = await runCli(['status'], { env });
  t.is(human.code, 0, human.stderr);
  const json = await runCli(['status', '--json'], { env });
  t.is(json.code, 0, json.stderr);
  const out = json.json<Record<string, unknown>>();
  if (dialect === 'postgres') {
    t.truthy(schema);
    t.is(human.stdout.split('\n')[0], `status of schema ${schema} of ${tdb.env.DATABASE_URL}`);
    t.like(out, { database: tdb.env.DATABASE_URL, schema });
  } else {
    t.is(human.stdout.split('\n')[0], `status of ${tdb.config.databaseUrl}`);
    t.like(out, { database: tdb.config.databaseUrl, schema: null });
  }
  // The fields that were there stay as they were, in their order; schema follows database.
  t.deepEqual(Object.keys(out), ['database', 'schema', 'queue', 'oldestQueuedAgeSeconds', 'pastLease', 'rescopedContent', 'failedRows', 'redis', 'healthy', 'problems']);
});
