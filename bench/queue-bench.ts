/**
 * Rescope queue benchmark on local PostgreSQL and Redis. Prints figures and ratios
 * against baselines run in the same process on the same database server:
 *
 *   1. enqueue: one class-wide request for 50,000 learners (rows/s);
 *   2. queue machinery (learners without competency statuses): dispatch + process,
 *      against graphile-worker running no-op jobs with a local queue of 500 and
 *      concurrency 24 (jobs/s);
 *   3. real work (learners with ~100 statuses covering whole lessons): process, against a
 *      plain SELECT that reads those learners' statuses row by row in batches of 1,000.
 *
 * Run: npm run bench:queue
 * Env: MTC_BATCH_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
 *      MTC_BATCH_BENCH_REDIS_URL, BENCH_LEARNERS (50000), BENCH_REAL_LEARNERS (20000),
 *      BENCH_BATCH_SIZE (3000), BENCH_CONCURRENCY (4), BENCH_ONLY (machinery | real),
 *      BENCH_PROFILE=1 (time per statement in the real-work run).
 *
 * The real-work run also measures CPU time: this process's (dispatch and process) and the
 * local PostgreSQL server's (all its processes, from /proc), per 1,000 learners: how much
 * database a process pod needs (README, "Running at scale").
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { machineSpeedLine } from './machine-speed.js';
import { Redis } from 'ioredis';
import { type Database, openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { RescopeBus } from '../src/rescope/bus.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { enqueue } from '../src/rescope/enqueue.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { type SeededCourse, seedClass, seedCourse } from '../src/seed/course-world.js';
import { runGraphileWorkerBaseline } from './graphile-baseline.js';

const pgUrl = process.env.MTC_BATCH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.MTC_BATCH_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const learnerCount = Number(process.env.BENCH_LEARNERS ?? 50_000);
const realLearnerCount = Number(process.env.BENCH_REAL_LEARNERS ?? 20_000);
const schema = 'mtc_bench_queue';
const busKey = 'mtc-bench:queue:bus';
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 3000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const settings = { batchSize, leaseSeconds: 600, maxAttempts: 5, retryDelaySeconds: 30 };

const fmt = (n: number) => Math.round(n).toLocaleString('en-GB');
const line = (label: string, text: string) => console.log(`${label.padEnd(34)} ${text}`);

async function main(): Promise<void> {
  const admin = await openDatabase({ databaseUrl: pgUrl, databaseSchema: null });
  await admin.knex.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
  const db = await openDatabase({ databaseUrl: pgUrl, databaseSchema: schema }, { poolSize: 12 });
  const redis = new Redis(redisUrl);
  const bus = new RescopeBus(redis, busKey);
  try {
    await redis.del(busKey);
    await migrate(db);
    const course = await seedCourse(db, courseSpec());
    console.log(machineSpeedLine('start'));
    console.log(`course: ${course.units.length} units, ${course.units.reduce((n, u) => n + u.lessons.length, 0)} lessons, 400 items, 5 competencies each`);
    console.log(`mtc-batch settings: batch size ${batchSize}, process concurrency ${concurrency}, one dispatcher`);

    // 1. enqueue
    const klass = await classWithMembers(db, course.id, learnerCount);
    await db.knex.raw('ANALYZE');
    const t0 = performance.now();
    const queued = await enqueue(db, [{ line: null, request: { source: 'rescope', classId: klass, courseId: null, memberIds: [], repeatedMembers: 0, override: false } }]);
    const enqueueMs = performance.now() - t0;
    const enqueueRate = (queued.queued / enqueueMs) * 1000;
    line('enqueue (class-wide request)', `${fmt(queued.queued)} rows in ${fmt(enqueueMs)} ms = ${fmt(enqueueRate)} rows/s (target ≥ 300,000)`);

    // 2. queue machinery: no competency statuses, so the compute is empty. Three rounds
    //    alternating with graphile-worker; medians compared, so a noisy run on either
    //    side does not decide the ratio.
    if (process.env.BENCH_ONLY === 'real') {
      await db.knex('rescope_queue').del();
    } else {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        if (round > 1) {
          await db.knex.raw('TRUNCATE rescoped_content');
          await enqueue(db, [{ line: null, request: { source: 'rescope', classId: klass, courseId: null, memberIds: [], repeatedMembers: 0, override: false } }]);
        }
        await db.knex.raw('VACUUM ANALYZE rescope_queue');
        const machinery = await drainQueue(db, bus, learnerCount);
        ours.push(machinery.rate);
        const gw = await runGraphileWorkerBaseline(pgUrl, learnerCount);
        theirs.push(gw.rate);
        line(`  round ${round}`, `mtc-batch ${fmt(machinery.rate)} rows/s (${fmt(machinery.ms)} ms) · graphile-worker ${fmt(gw.rate)} jobs/s (${fmt(gw.ms)} ms)`);
      }
      line('dispatch + process (no statuses)', `median ${fmt(median(ours))} rows/s for ${fmt(learnerCount)} learners (dispatch and process running together)`);
      line('graphile-worker no-op jobs', `median ${fmt(median(theirs))} jobs/s (local queue 500, concurrency 24, batched completion)`);
      line('  ratio mtc-batch / graphile-worker', `${(median(ours) / median(theirs)).toFixed(2)}× (target ≥ 1.5×)`);
    }
    if (process.env.BENCH_ONLY === 'machinery') return;

    // 3. real work
    const realClass = await classWithMembers(db, course.id, realLearnerCount);
    await seedStatuses(db, course, realClass);
    // A long-lived table, as in production: vacuumed, so index-only scans can skip the heap.
    await db.knex.raw('VACUUM ANALYZE user_competency_status');
    await db.knex.raw('ANALYZE');
    const statusRows = Number((await db.knex('user_competency_status').count({ n: '*' }))[0]!.n);
    console.log(`real work: ${fmt(realLearnerCount)} learners, ${fmt(statusRows)} statuses (${(statusRows / realLearnerCount).toFixed(0)} each, covering whole lessons)`);
    const baseline = await plainSelectBaseline(db, realClass);
    await db.knex('rescoped_content').del();
    await enqueue(db, [{ line: null, request: { source: 'rescope', classId: realClass, courseId: null, memberIds: [], repeatedMembers: 0, override: false } }]);
    await db.knex.raw('ANALYZE');
    const stopProfile = process.env.BENCH_PROFILE ? profileStatements(db) : () => undefined;
    const statements = countStatements(db);
    // The seeding above leaves gigabytes of dirty pages: write them out now, so the
    // server's background writes of the seed are not counted as the queue's CPU.
    await db.knex.raw('CHECKPOINT').catch(() => undefined);
    const postgresCpuMs = await postgresCpu(db);
    const cpuBefore = { worker: process.cpuUsage(), database: postgresCpuMs() };
    const real = await drainQueue(db, bus, realLearnerCount);
    const workerCpuMs = process.cpuUsage(cpuBefore.worker);
    const databaseCpuMs = postgresCpuMs() - cpuBefore.database;
    stopProfile();
    const sent = statements.stop();
    const sample = await db.knex('rescoped_content').first('skipped_content');
    // JSON columns come back as text (the toolkit passes stored documents through untouched).
    const sampleContent = JSON.parse(String(sample?.skipped_content ?? '{}')) as { lessons?: string[]; assessments?: string[] };
    line('plain SELECT of statuses (baseline)', `${fmt(baseline.rows)} rows in ${fmt(baseline.ms)} ms = ${fmt(baseline.rate)} learners/s`);
    line('dispatch + process with real work', `${fmt(realLearnerCount)} learners in ${fmt(real.ms)} ms = ${fmt(real.rate)} learners/s`);
    line('  ratio to plain SELECT', `${(real.rate / baseline.rate).toFixed(2)}× (target ≥ 1.5×); e.g. ${sampleContent.lessons?.length} lessons, ${sampleContent.assessments?.length} assessments skipped`);
    const per1000 = (ms: number) => (ms / realLearnerCount) * 1000;
    const workerMs = per1000((workerCpuMs.user + workerCpuMs.system) / 1000);
    const databaseMs = per1000(databaseCpuMs);
    const batches = Math.ceil(realLearnerCount / batchSize);
    line('statements sent', `${fmt(sent.total)} for ${batches} batches of ${fmt(batchSize)}: ${(sent.process / batches).toFixed(1)} a batch by process, ${fmt(sent.total - sent.process)} by dispatch runs`);
    line('CPU per 1,000 learners', `PostgreSQL ${fmt(databaseMs)} ms (target ≤ 40), mtc-batch ${fmt(workerMs)} ms: one database core keeps ${(workerMs / databaseMs).toFixed(1)} process cores busy`);
  } finally {
    console.log(machineSpeedLine('end'));
    await redis.del(busKey);
    await redis.quit();
    await db.knex.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
  }
}

/**
 * CPU time (user + system) of the PostgreSQL server the benchmark uses, in ms: the
 * postmaster and every live child (backends, autovacuum, checkpointer, WAL writer), plus
 * what the postmaster collected from children that exited (cutime + cstime), so a
 * backend whose connection closed during the measured section is still counted. The
 * postmaster is found as the parent of this connection's backend; the server must run on
 * this machine.
 */
async function postgresCpu(db: Database): Promise<() => number> {
  const { rows } = (await db.knex.raw('SELECT pg_backend_pid() AS pid')) as { rows: Array<{ pid: number }> };
  const postmaster = procStat(rows[0]!.pid).ppid;
  const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return () => {
    const own = procStat(postmaster);
    let ticks = own.utime + own.stime + own.cutime + own.cstime;
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const child = procStat(Number(pid));
        if (child.ppid === postmaster) ticks += child.utime + child.stime;
      } catch {
        // The process ended meanwhile (a backend's time then moves to cutime/cstime).
      }
    }
    return ticks * tick;
  };
}

/** Fields of /proc/<pid>/stat: after the command, state is the 3rd field overall, ppid the 4th, utime the 14th. */
function procStat(pid: number): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { ppid: f[1]!, utime: f[11]!, stime: f[12]!, cutime: f[13]!, cstime: f[14]! };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 10 units × 8 lessons × 5 items = 400 items, 5 distinct competencies each. */
function courseSpec() {
  let code = 0;
  const item = (format: string) => ({ format, competencies: Array.from({ length: 5 }, () => `C${code++}`) });
  const formats = ['assessment', 'collection', 'assessment-external', 'collection-external', 'assessment'];
  return { units: Array.from({ length: 10 }, () => Array.from({ length: 8 }, () => formats.map(item))) };
}

async function classWithMembers(db: Database, courseId: string, members: number): Promise<string> {
  const { id } = await seedClass(db, { courseId });
  await db.knex.raw('INSERT INTO class_member (class_id, user_id, is_active) SELECT ?, gen_random_uuid(), true FROM generate_series(1, ?)', [id, members]);
  return id;
}

/** Each learner masters 4 lessons chosen by a hash of their id: 4 × 5 items × 5 = 100 statuses. */
async function seedStatuses(db: Database, course: SeededCourse, classId: string): Promise<void> {
  const lessons = course.units.flatMap((u) => u.lessons.map((l) => l.id));
  await db.knex.raw(
    `WITH lessons AS (SELECT lesson_id, ord - 1 AS n FROM unnest(?::uuid[]) WITH ORDINALITY AS t(lesson_id, ord)),
     picks AS (SELECT DISTINCT m.user_id, abs(hashtext(m.user_id::text || k::text)) % ? AS n
               FROM class_member m CROSS JOIN generate_series(1, 4) k WHERE m.class_id = ?)
     INSERT INTO user_competency_status (user_id, competency_code, status)
     SELECT DISTINCT p.user_id, cic.competency_code, 'mastered'
     FROM picks p JOIN lessons l ON l.n = p.n
     JOIN course_item ci ON ci.lesson_id = l.lesson_id JOIN course_item_competency cic ON cic.item_id = ci.id`,
    [lessons, lessons.length, classId],
  );
}

/**
 * Dispatch and process running at the same time, as in production (a dispatch CronJob
 * and process pods): one dispatcher claiming batches while `concurrency` batches are
 * processed. The worker polls the bus briefly when it runs ahead of the dispatcher.
 */
async function drainQueue(db: Database, bus: RescopeBus, expected: number) {
  const t0 = performance.now();
  let dispatchMs = 0;
  // Dispatch runs back to back, each claiming batches until the bus holds 4 batches, as
  // a dispatcher on a short schedule does (each run recovers expired leases first).
  const dispatching = (async () => {
    let dispatched = 0;
    while (dispatched < expected) {
      const r = await dispatch(db, bus, { ...settings, batches: 1000, maxBusLength: 4 * batchSize });
      dispatched += r.dispatched;
      if (r.busFull) await new Promise((resolve) => setTimeout(resolve, 5));
      else if (r.dispatched === 0) throw new Error(`dispatched ${dispatched} of ${expected}`);
    }
    dispatchMs = performance.now() - t0;
  })();
  let dispatchDone = false;
  let dispatchFailed: unknown;
  dispatching.then(
    () => (dispatchDone = true),
    (err: unknown) => (dispatchFailed = err),
  );
  // The worker stops after 300 ms of empty bus; on a loaded machine the dispatcher can
  // fall that far behind, so the worker starts again until everything was dispatched
  // (a process pod restarted by its CronJob).
  let processed = 0;
  do {
    processed += (await processQueue(db, bus, { ...settings, concurrency, waitMs: 300 })).processed;
    if (dispatchFailed !== undefined) throw dispatchFailed;
  } while (!dispatchDone || (await bus.length()) > 0);
  await dispatching;
  const ms = performance.now() - t0 - 300; // the worker's final wait for more work is not work
  if (processed !== expected) throw new Error(`processed ${processed} of ${expected}`);
  return { dispatchMs, ms, rate: (expected / ms) * 1000 };
}

/** Reads every status of the class's learners, 1,000 learners a query, touching each row in JavaScript. */
async function plainSelectBaseline(db: Database, classId: string) {
  const users: string[] = (await db.knex('class_member').where({ class_id: classId }).orderBy('user_id').pluck('user_id')) as string[];
  const t0 = performance.now();
  let rows = 0;
  let touched = 0;
  for (let i = 0; i < users.length; i += 1000) {
    const batch: Array<{ user_id: string; competency_code: string; status: string }> = await db.knex('user_competency_status')
      .select('user_id', 'competency_code', 'status')
      .whereIn('user_id', users.slice(i, i + 1000));
    for (const row of batch) {
      rows++;
      touched += row.competency_code.length;
    }
  }
  const ms = performance.now() - t0;
  if (touched === 0) throw new Error('the baseline read nothing');
  return { rows, ms, rate: (users.length / ms) * 1000 };
}

/**
 * Counts the statements sent through knex until stopped: all of them, and those of
 * process (everything but dispatch's recover, claim and release of rows).
 */
function countStatements(db: Database): { stop(): { total: number; process: number } } {
  let total = 0;
  let dispatching = 0;
  const onQuery = (q: { sql: string }) => {
    total++;
    if (/^(UPDATE|update) .*rescope_queue.* (SET|set) .*(status|"status") = (CASE|'dispatched')|^update "rescope_queue" set "status" = \$1, "updated_at"/.test(q.sql)) dispatching++;
  };
  db.knex.on('query', onQuery);
  return {
    stop() {
      db.knex.removeListener('query', onQuery);
      return { total, process: total - dispatching };
    },
  };
}

/** BENCH_PROFILE=1: total time per statement kind, printed when stopped. */
function profileStatements(db: Database): () => void {
  const started = new Map<string, number>();
  const totals = new Map<string, { n: number; ms: number }>();
  const onQuery = (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now());
  const onResponse = (_r: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const key = q.sql.replace(/\s+/g, ' ').slice(0, 70);
    const t = totals.get(key) ?? { n: 0, ms: 0 };
    t.n++;
    t.ms += performance.now() - (started.get(q.__knexQueryUid) ?? performance.now());
    totals.set(key, t);
  };
  db.knex.on('query', onQuery).on('query-response', onResponse);
  return () => {
    db.knex.removeListener('query', onQuery).removeListener('query-response', onResponse);
    for (const [k, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) console.log(`    ${fmt(t.ms).padStart(7)} ms ${String(t.n).padStart(5)}×  ${k}`);
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
