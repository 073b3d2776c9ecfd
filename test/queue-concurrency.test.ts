/**
 * Exactly-once under concurrency and crashes, with real processes on one PostgreSQL
 * database (SQLite has one writer by design; its crash recovery is covered in queue.test).
 */
import type { ExecutionContext } from 'ava';
import knexFactory from 'knex';
import { queueCounts } from '../src/rescope/queue-table.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { spawnCli } from './helpers/cli.js';
import { clusterOnly, lockWaiters, postgresOnly, postgresUrl } from './helpers/databases.js';
import { type RescopeFixture, contentRows, enqueueRequests, queueRows, rescopeFixture } from './helpers/rescope.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

async function world(f: RescopeFixture, classes: number, perClass: number) {
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }, { competencies: ['b'] }]], [[{ competencies: ['c'] }]]] });
  const all: string[] = [];
  for (let i = 0; i < classes; i++) {
    const members = learners(perClass);
    all.push(...members);
    await seedCompetencies(f.db, Object.fromEntries(members.filter((_, j) => j % 3 === 0).map((m) => [m, { a: 'mastered', b: 'completed' }])));
    const klass = await seedClass(f.db, { courseId: course.id, members });
    await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  }
  return { course, all };
}

function assertExactlyOnce(t: ExecutionContext, rows: Awaited<ReturnType<typeof contentRows>>, expected: string[]) {
  const keys = rows.map((r) => `${r.userId}|${r.courseId}|${r.classId}`);
  t.is(new Set(keys).size, keys.length, 'no learner has two content rows');
  t.deepEqual(rows.map((r) => r.userId).sort(), [...expected].sort(), 'every learner has content');
}

/** Rounds of 2 dispatchers and the given process workers, all at once, until the queue is empty. */
async function manyAtOnce(t: ExecutionContext, f: RescopeFixture, all: string[], workers: string[][]): Promise<void> {
  const env = { ...f.env, MTC_BATCH_LOG_LEVEL: 'warn' };
  const totals = { processed: 0, alreadyDone: 0 };
  for (let round = 0; round < 20; round++) {
    const runs = await Promise.all([
      spawnCli(['dispatch', '--batch-size', '150', '--batches', '2', '--json'], { env }),
      spawnCli(['dispatch', '--batch-size', '150', '--batches', '2', '--json'], { env }),
      ...workers.map((flags) => spawnCli(['process', ...flags, '--json'], { env })),
    ]);
    for (const r of runs) t.is(r.code, 0, r.stderr);
    for (const r of runs.slice(2)) {
      const out = r.json<{ processed: number; alreadyDone: number; failed: number; retried: number }>();
      totals.processed += out.processed;
      totals.alreadyDone += out.alreadyDone;
      t.is(out.failed + out.retried, 0);
    }
    // Duplicate messages on top: harmless by design.
    const someIds = (await queueRows(f.db)).filter((r) => r.status === 'dispatched').slice(0, 20).map((r) => r.id);
    await f.bus.push(someIds);
    const queue = await queueCounts(f.db);
    t.log(`round ${round + 1}: processed ${runs.slice(2).map((r) => r.json<{ processed: number }>().processed).join(' + ')}`);
    if (queue.queued + queue.dispatched + queue.processing === 0 && (await f.bus.length()) === 0) break;
  }
  t.deepEqual(await queueRows(f.db), [], 'nothing is left behind');
  assertExactlyOnce(t, await contentRows(f.db), all);
  t.is(totals.processed, all.length, 'each learner was computed and stored by exactly one process');
}

postgresOnly('several dispatch and process processes at once rescope every learner exactly once', async (t) => {
  t.timeout(120_000);
  const f = await rescopeFixture(t, 'postgres');
  const { all } = await world(f, 3, 400);
  await manyAtOnce(t, f, all, [
    ['--batch-size', '40', '--concurrency', '3'],
    ['--batch-size', '40', '--concurrency', '3'],
    ['--batch-size', '25', '--concurrency', '2'],
  ]);
});

clusterOnly('2 dispatch and 4 process processes at once on a Redis Cluster rescope every learner exactly once', async (t, target) => {
  t.timeout(120_000);
  const f = await rescopeFixture(t, target);
  const { all } = await world(f, 3, 400);
  await manyAtOnce(t, f, all, [
    ['--batch-size', '40', '--concurrency', '3'],
    ['--batch-size', '40', '--concurrency', '3'],
    ['--batch-size', '25', '--concurrency', '2'],
    ['--batch-size', '60', '--concurrency', '2'],
  ]);
});

postgresOnly('a process killed with SIGKILL mid-batch: after the lease, dispatch and process finish every learner once', async (t) => {
  t.timeout(300_000);
  const f = await rescopeFixture(t, 'postgres');
  const { all } = await world(f, 1, 60);
  const env = { ...f.env, MTC_BATCH_LOG_LEVEL: 'warn' };
  t.is((await spawnCli(['dispatch', '--json'], { env })).json<{ dispatched: number }>().dispatched, 60);

  // Hold a lock that lets the worker claim and read but not store, so it is caught
  // mid-batch with its rows in 'processing'.
  const blocker = knexFactory({ client: 'pg', connection: postgresUrl, pool: { min: 1, max: 1 } });
  const trx = await blocker.transaction();
  // Whatever happens below, the lock goes before the pool (a pool with an open
  // transaction never finishes closing, and the schema could not be dropped).
  t.teardown(async () => {
    await trx.rollback().catch(() => undefined);
    await blocker.destroy();
  });
  const table = `"${f.tdb.config.databaseSchema}"."rescoped_content"`;
  await trx.raw(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
  const worker = spawnCli(['process', '--batch-size', '60'], { env });
  t.teardown(() => worker.child.kill('SIGKILL'));
  // Killed once its store is sent and waiting on the lock, with its rows 'processing'.
  const deadline = Date.now() + 60_000;
  while ((await queueRows(f.db)).filter((r) => r.status === 'processing').length < 60 || (await lockWaiters(trx, table)) === 0) {
    if (Date.now() > deadline) throw new Error('the worker never got to storing its batch');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  worker.child.kill('SIGKILL');
  const killed = await worker;
  t.not(killed.code, 0);
  // The worker's store is one statement (content and row deletes together), already sent
  // and waiting on the lock. PostgreSQL runs a statement it received to its end unless it
  // notices that the client left: this one would store the batch and delete its rows,
  // exactly once, which is the other legitimate outcome of a kill. To test recovery by
  // the lease, end that session first, as the server itself does once it notices (or
  // with client_connection_check_interval).
  const { rows: ended } = (await trx.raw('SELECT pg_terminate_backend(l.pid, 10000) AS ended FROM pg_locks l WHERE l.relation = CAST(? AS regclass) AND NOT l.granted', [
    table,
  ])) as { rows: Array<{ ended: boolean }> };
  t.deepEqual(ended, [{ ended: true }], 'the killed worker\'s store was waiting on the lock');
  await trx.rollback();

  t.is((await contentRows(f.db)).length, 0, 'the killed batch stored nothing');
  t.is((await queueRows(f.db)).filter((r) => r.status === 'processing').length, 60, 'its rows wait for their lease');

  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const recovered = await spawnCli(['dispatch', '--lease-seconds', '1', '--json'], { env });
  t.like(recovered.json(), { recovered: 60, failed: 0, dispatched: 60 });
  const finished = await spawnCli(['process', '--json'], { env });
  t.like(finished.json(), { processed: 60, alreadyDone: 0, failed: 0 });
  t.deepEqual(await queueRows(f.db), []);
  assertExactlyOnce(t, await contentRows(f.db), all);
});
