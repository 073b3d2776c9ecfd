import test from 'ava';
import { waitSeconds } from '../src/cli/enqueue-wait.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { learners, seedClass, seedCourse } from '../src/seed/course-world.js';
import { spawnCli } from './helpers/cli.js';
import { eachDialect } from './helpers/databases.js';
import { type RescopeFixture, failStorageFor, rescopeFixture } from './helpers/rescope.js';

const settings = { batchSize: 100, leaseSeconds: 600, maxAttempts: 1, retryDelaySeconds: 30, concurrency: 1 };
const oneItem = { units: [[[{ competencies: ['a'] }]]] };

interface WaitJson {
  queued: number;
  wait: {
    outcome: string;
    learners: number;
    done: number;
    failed: number;
    pending: number;
    dispatchRunning: boolean | null;
    processRunning: boolean | null;
    failures: Array<{ userId: string; attempts: number; error: string }>;
    waiting: Array<{ userId: string; state: string; due: boolean }>;
  };
}

/** The scheduled jobs, in the background: dispatch and/or process every 200 ms until stopped. */
function scheduled(f: RescopeFixture, steps: { dispatch: boolean; process: boolean }): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      if (steps.dispatch) await dispatch(f.db, f.bus, settings);
      if (steps.process) await processQueue(f.db, f.bus, settings);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

async function classOf(f: RescopeFixture, n: number) {
  const course = await seedCourse(f.db, oneItem);
  const members = learners(n);
  const klass = await seedClass(f.db, { courseId: course.id, members });
  return { course, members, klass };
}

eachDialect('enqueue --wait returns once dispatch and process, running on their own, have done every learner', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const { klass, members } = await classOf(f, 3);
  const stop = scheduled(f, { dispatch: true, process: true });
  const r = await spawnCli(['enqueue', '--source', 'rescope', '--class', klass.id, '--wait', '60', '--json'], { env: f.env });
  await stop();
  t.is(r.code, 0, r.stderr);
  const out = r.json<WaitJson>();
  t.is(out.queued, 3);
  t.like(out.wait, { outcome: 'finished', learners: 3, done: 3, failed: 0, pending: 0, failures: [], waiting: [] });
  // Human output, for a learner queued again.
  const again = scheduled(f, { dispatch: true, process: true });
  const done = await spawnCli(['enqueue', '--source', 'join.class', '--class', klass.id, '--member', members[0]!, '--wait', '60'], { env: f.env });
  await again();
  t.is(done.code, 0, done.stderr);
  t.regex(done.stdout, /waited \d+s: all 1 learner done$/m);
});

eachDialect('enqueue --wait runs out with nothing running: says who is still queued and that dispatch is not running', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const { klass, members } = await classOf(f, 2);
  const r = await spawnCli(['enqueue', '--source', 'rescope', '--class', klass.id, '--wait', '2', '--json'], { env: f.env });
  t.is(r.code, 1);
  const out = r.json<WaitJson>().wait;
  t.like(out, { outcome: 'timed-out', learners: 2, done: 0, pending: 2, dispatchRunning: false, processRunning: null });
  t.deepEqual(out.waiting.map((w) => [w.userId, w.state, w.due]).sort(), members.map((m) => [m, 'queued', true]).sort());

  const human = await spawnCli(['enqueue', '--source', 'rescope', '--class', klass.id, '--wait', '1'], { env: f.env });
  t.is(human.code, 1);
  t.regex(human.stdout, /waited \d+s \(--wait 1\), ran out: 0 of 2 learners done, 0 failed, 2 still queued or in flight\nstill waiting:\n/);
  t.regex(human.stdout, new RegExp(`learner ${members[0]} course \\S+ class ${klass.id}: queued, due`));
  t.regex(human.stdout, /dispatch does not appear to be running: 2 rows due, and no row was dispatched during the wait/);

  // Dispatch alone: the rows wait in 'dispatched', and process is the one missing.
  await dispatch(f.db, f.bus, settings);
  const stuck = await spawnCli(['enqueue', '--source', 'rescope', '--class', klass.id, '--wait', '1', '--json'], { env: f.env });
  t.is(stuck.code, 1);
  t.like(stuck.json<WaitJson>().wait, { outcome: 'timed-out', pending: 2, processRunning: false });
  t.true(stuck.json<WaitJson>().wait.waiting.every((w) => w.state === 'dispatched'));
});

eachDialect('enqueue --wait reports a learner that failed, with the error, and exits 1', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const { klass, members } = await classOf(f, 3);
  const bad = members[1]!;
  await failStorageFor(f.db, f.tdb.dialect, bad);
  const stop = scheduled(f, { dispatch: true, process: true });
  const r = await spawnCli(['enqueue', '--source', 'rescope', '--class', klass.id, '--wait', '60', '--json'], { env: f.env });
  await stop();
  t.is(r.code, 1, r.stderr);
  const out = r.json<WaitJson>().wait;
  t.like(out, { outcome: 'finished', learners: 3, done: 2, failed: 1, pending: 0 });
  t.is(out.failures[0]?.userId, bad);
  t.regex(out.failures[0]?.error ?? '', /simulated storage failure/);
});

test('--wait alone waits 300 s; a bad value is a usage error', (t) => {
  t.is(waitSeconds(true), 300);
  t.is(waitSeconds(undefined), undefined);
  t.is(waitSeconds('45'), 45);
  t.throws(() => waitSeconds('0'), { message: /--wait/ });
  t.throws(() => waitSeconds('soon'), { message: /--wait/ });
});
