/**
 * The faults operators meet, made to happen at a known point: the database connection
 * killed (pg_terminate_backend) while a job waits on a lock the test holds, and Redis
 * stopped under a running process. Each job exits non-zero with one clear line, and the
 * next runs finish the work: every learner rescoped exactly once, every pupil notified.
 */
import type { ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { toBool } from '../src/db/values.js';
import { type CliResult, spawnCli } from './helpers/cli.js';
import { postgresOnly, postgresUrl } from './helpers/databases.js';
import { notificationFixture } from './helpers/notifications.js';
import { ownRedis } from './helpers/redis-server.js';
import { type RescopeFixture, contentRows, enqueueRequests, queueRows, rescopeFixture } from './helpers/rescope.js';

/** A second connection that holds a lock on `table` until released. */
async function lockTable(t: ExecutionContext, schema: string, table: string): Promise<{ release(): Promise<void> }> {
  const blocker = knexFactory({ client: 'pg', connection: postgresUrl, pool: { min: 1, max: 1 } });
  t.teardown(() => blocker.destroy());
  const trx = await blocker.transaction();
  await trx.raw(`LOCK TABLE "${schema}"."${table}" IN EXCLUSIVE MODE`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await trx.rollback();
    },
  };
}

/** Waits until a backend of `role` waits on a lock, then terminates every backend of `role`. */
async function terminateWhenWaiting(admin: Knex, role: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await admin.raw("SELECT pid FROM pg_stat_activity WHERE usename = ? AND wait_event_type = 'Lock'", [role]);
    if ((rows as unknown[]).length > 0) break;
    if (Date.now() > deadline) throw new Error(`no backend of ${role} ever waited on the lock`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await admin.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ?', [role]);
}

function jobRole(f: { tdb: { env: Record<string, string> } }): string {
  return new URL(f.tdb.env.DATABASE_URL!).username;
}

function oneClearLine(t: ExecutionContext, r: CliResult, pattern: RegExp): void {
  t.not(r.code, 0, r.stderr);
  t.regex(r.stderr, pattern);
  t.false(/\n\s+at |unexpected failure|Unhandled/.test(r.stderr), r.stderr);
}

async function rescopeWorld(f: RescopeFixture, members: number) {
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }, { competencies: ['b'] }]]] });
  const all = learners(members);
  await seedCompetencies(f.db, Object.fromEntries(all.filter((_, i) => i % 2 === 0).map((m) => [m, { a: 'mastered' }])));
  const klass = await seedClass(f.db, { courseId: course.id, members: all });
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  return all;
}

/** Recovery: past the lease, one dispatch and one process finish everything, exactly once. */
async function finishAndCheck(t: ExecutionContext, f: RescopeFixture, env: Record<string, string>, all: string[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  for (let round = 0; round < 5 && (await queueRows(f.db)).length > 0; round++) {
    const dispatched = await spawnCli(['dispatch', '--lease-seconds', '1', '--batches', '10'], { env });
    t.is(dispatched.code, 0, dispatched.stderr);
    const processed = await spawnCli(['process'], { env });
    t.is(processed.code, 0, processed.stderr);
  }
  t.deepEqual(await queueRows(f.db), [], 'nothing left on the queue');
  const rows = await contentRows(f.db);
  t.is(new Set(rows.map((r) => r.userId)).size, rows.length, 'no learner stored twice');
  t.deepEqual(rows.map((r) => r.userId).sort(), [...all].sort(), 'every learner rescoped');
}

postgresOnly('process: its database connection killed mid-batch; the next runs finish, exactly once', async (t) => {
  const f = await rescopeFixture(t, 'postgres');
  const all = await rescopeWorld(f, 300);
  const env = { ...f.env, MTC_BATCH_LEASE_SECONDS: '1' };
  t.is((await spawnCli(['dispatch', '--batches', '10'], { env })).code, 0);
  const lock = await lockTable(t, f.tdb.config.databaseSchema!, 'rescoped_content');
  const worker = spawnCli(['process', '--batch-size', '100', '--concurrency', '1'], { env });
  await terminateWhenWaiting(f.db.knex, jobRole(f));
  await lock.release();
  oneClearLine(t, await worker, /lost the connection to the database postgres:\/\/.*: (terminating connection due to administrator command|Connection terminated unexpectedly|read ECONNRESET)/);
  await finishAndCheck(t, f, env, all);
});

postgresOnly('dispatch: its database connection killed while claiming; the next runs finish, exactly once', async (t) => {
  const f = await rescopeFixture(t, 'postgres');
  const all = await rescopeWorld(f, 200);
  const env = { ...f.env };
  const lock = await lockTable(t, f.tdb.config.databaseSchema!, 'rescope_queue');
  const worker = spawnCli(['dispatch', '--batches', '10'], { env });
  await terminateWhenWaiting(f.db.knex, jobRole(f));
  await lock.release();
  oneClearLine(t, await worker, /lost the connection to the database postgres:\/\/.*: (terminating connection due to administrator command|Connection terminated unexpectedly|read ECONNRESET)/);
  t.is(await f.bus.length(), 0, 'nothing was published for rows that were not claimed');
  await finishAndCheck(t, f, env, all);
});

postgresOnly('process: Redis stopped under it; it exits saying so, and the next runs finish, exactly once', async (t) => {
  const f = await rescopeFixture(t, 'postgres');
  const redis = await ownRedis(t);
  const env = { ...f.env, REDIS_URL: redis.url };
  const all = await rescopeWorld(f, 300);
  t.is((await spawnCli(['dispatch', '--batches', '10'], { env })).code, 0);
  // The worker takes its first batch and waits on the database; Redis goes away meanwhile.
  const lock = await lockTable(t, f.tdb.config.databaseSchema!, 'rescoped_content');
  const worker = spawnCli(['process', '--batch-size', '100', '--concurrency', '1'], { env });
  const deadline = Date.now() + 30_000;
  while (!(await queueRows(f.db)).some((r) => r.status === 'processing')) {
    if (Date.now() > deadline) throw new Error('the worker never claimed a batch');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await redis.stop();
  await lock.release();
  oneClearLine(t, await worker, new RegExp(`lost the connection to Redis redis://127\\.0\\.0\\.1:${redis.port}`));
  // Redis comes back empty (the bus is gone with it): the lease brings the rows back.
  await redis.start();
  await finishAndCheck(t, f, env, all);
});

postgresOnly('notify-invalid: its database connection killed while marking; the next run notifies every pupil', async (t) => {
  const f = await notificationFixture(t, 'postgres');
  const school = await seedSchool(f.db);
  const pupils = await Promise.all(Array.from({ length: 5 }, () => seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } })));
  const input = pupils.map((p) => JSON.stringify({ version: 1, checkCode: p.checkCode, notificationType: 'checkInvalid' })).join('\n');
  const lock = await lockTable(t, f.tdb.config.databaseSchema!, 'check');
  const worker = spawnCli(['notify-invalid', '--jsonl', '-'], { env: f.env, stdin: input });
  await terminateWhenWaiting(f.db.knex, jobRole(f));
  await lock.release();
  oneClearLine(t, await worker, /lost the connection to the database postgres:\/\/.*: (terminating connection due to administrator command|Connection terminated unexpectedly|read ECONNRESET)/);
  const again = await spawnCli(['notify-invalid', '--jsonl', '-'], { env: f.env, stdin: input });
  t.is(again.code, 0, again.stderr);
  const marked = await f.db.knex('check').select('processingFailed');
  t.true(marked.every((r: { processingFailed: unknown }) => toBool(r.processingFailed)));
  const entry = await f.read(school.urlSlug);
  t.deepEqual(entry?.processingErrorPupilUUIDs, pupils.map((p) => p.urlSlug).sort());
});

for (const db of ['/3', '']) {
  postgresOnly(`process: Redis's password changed under it (database ${db === '' ? '0' : db.slice(1)}); one clear line without the password, and with the new one the next runs finish, exactly once`, async (t) => {
    const f = await rescopeFixture(t, 'postgres');
    const redis = await ownRedis(t, { password: 'old-s3cret' });
    const env = { ...f.env, REDIS_URL: `${redis.url}${db}` };
    const all = await rescopeWorld(f, 300);
    t.is((await spawnCli(['dispatch', '--batches', '10'], { env })).code, 0);
    const lock = await lockTable(t, f.tdb.config.databaseSchema!, 'rescoped_content');
    const worker = spawnCli(['process', '--batch-size', '100', '--concurrency', '1', '--json'], { env });
    const deadline = Date.now() + 30_000;
    while (!(await queueRows(f.db)).some((r) => r.status === 'processing')) {
      if (Date.now() > deadline) throw new Error('the worker never claimed a batch');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The password is rotated and every connection dropped: ioredis reconnects with the old one.
    const admin = new Redis({ port: redis.port, host: '127.0.0.1', password: 'old-s3cret' });
    await admin.config('SET', 'requirepass', 'new-s3cret');
    await admin.client('KILL', 'TYPE', 'normal');
    admin.disconnect();
    await lock.release();
    const r = await worker;
    oneClearLine(t, r, /lost the connection to Redis redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.*no longer accepts the job's credentials/);
    t.false(r.stderr.includes('s3cret') || r.stdout.includes('s3cret'), r.stderr);
    t.false(/Node\.js v|entry\.cjs|chunk-/.test(r.stderr), r.stderr);
    t.is(r.json<{ error: { code: string } }>().error.code, 'connection');
    t.is(r.stdout.trim().split('\n').length, 1, 'one JSON object on stdout');
    await finishAndCheck(t, f, { ...env, REDIS_URL: `redis://:new-s3cret@127.0.0.1:${redis.port}${db}` }, all);
  });
}
