import type { ExecutionContext } from 'ava';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { eachTarget, lockWaiters, postgresOnly } from './helpers/databases.js';
import { type RescopeFixture, contentRows, enqueueRequests, failStorageFor, queueRows, rescopeFixture } from './helpers/rescope.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

const settings = { batchSize: 100, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 2 };

async function classOf(f: RescopeFixture, n: number) {
  const course = await seedCourse(f.db, {
    units: [
      [[{ competencies: ['a'] }, { format: 'collection', competencies: ['b'] }], [{ format: 'assessment-external', competencies: ['c'] }]],
      [[{ format: 'collection-external', competencies: ['d', 'e'] }]],
    ],
  });
  const members = learners(n);
  const klass = await seedClass(f.db, { courseId: course.id, members });
  return { course, members, klass };
}

const runAll = (f: RescopeFixture, overrides: Partial<typeof settings & { max: number }> = {}) => processQueue(f.db, f.bus, { ...settings, ...overrides });

eachTarget('dispatch then process stores each learner its skipped content and empties the queue', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { course, members, klass } = await classOf(f, 4);
  const [full, partial, none, wrongStatus] = members as [string, string, string, string];
  await seedCompetencies(f.db, {
    [full]: { a: 'mastered', b: 'completed', c: 'completed', d: 'mastered', e: 'mastered' },
    [partial]: { a: 'completed', b: 'mastered', d: 'completed' },
    [wrongStatus]: { a: 'in-progress', b: 'started' },
  });
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  t.like(await dispatch(f.db, f.bus, settings), { recovered: 0, dispatched: 4 });
  t.is(await f.bus.length(), 4);
  t.like(await runAll(f), { processed: 4, alreadyDone: 0, retried: 0, failed: 0, stoppedBy: 'bus-empty' });
  t.deepEqual(await queueRows(f.db), []);
  const byUser = new Map((await contentRows(f.db)).map((r) => [r.userId, r]));
  const [u1, u2] = course.units as [(typeof course.units)[0], (typeof course.units)[0]];
  t.deepEqual(byUser.get(full)?.content, {
    units: [u1.id, u2.id],
    lessons: [u1.lessons[0]!.id, u1.lessons[1]!.id, u2.lessons[0]!.id],
    assessments: [u1.lessons[0]!.items[0]!],
    collections: [u1.lessons[0]!.items[1]!],
    assessmentsExternal: [u1.lessons[1]!.items[0]!],
    collectionsExternal: [u2.lessons[0]!.items[0]!],
  });
  t.deepEqual(byUser.get(partial)?.content, {
    units: [],
    lessons: [u1.lessons[0]!.id],
    assessments: [u1.lessons[0]!.items[0]!],
    collections: [u1.lessons[0]!.items[1]!],
    assessmentsExternal: [],
    collectionsExternal: [],
  });
  for (const user of [none, wrongStatus]) t.true(Object.values(byUser.get(user)!.content).every((list) => list.length === 0));
  t.true([...byUser.values()].every((r) => r.classId === klass.id && r.courseId === course.id));
});

eachTarget('dispatch --batch-size 1 after a class-wide request and then an oob request picks the oob one', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass, course } = await classOf(f, 20);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  const [independent] = learners(1) as [string];
  await enqueueRequests(f.db, { source: 'oob', courseId: course.id, memberIds: [independent] });
  t.like(await dispatch(f.db, f.bus, { ...settings, batchSize: 1 }), { dispatched: 1 });
  const [picked] = await f.bus.pop(10);
  const row = (await queueRows(f.db)).find((r) => r.id === Number(picked));
  t.is(row?.source, 'oob');
  t.is(row?.userId, independent);
  t.is(row?.status, 'dispatched');
});

eachTarget('duplicate messages, messages for finished rows and junk on the bus are harmless', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 3);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  const ids = (await queueRows(f.db)).map((r) => String(r.id));
  await f.bus.push(ids.map(Number)); // every message twice
  await f.redis.client.rpush(f.bus.key, 'not-an-id', '-4', '');
  const first = await runAll(f, { batchSize: 4 });
  t.like(first, { processed: 3, failed: 0, invalidMessages: 3 });
  t.is(first.ignored, 3);
  await f.bus.push(ids.map(Number)); // rows are gone now
  t.like(await runAll(f), { processed: 0, alreadyDone: 0, ignored: 3 });
  t.is((await contentRows(f.db)).length, 3);
});

eachTarget('a row whose learner already has content is deleted as already done', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass, members } = await classOf(f, 2);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  await runAll(f);
  await enqueueRequests(f.db, { source: 'oob', classId: klass.id, memberIds: members });
  await dispatch(f.db, f.bus, settings);
  t.like(await runAll(f), { processed: 0, alreadyDone: 2 });
  t.deepEqual(await queueRows(f.db), []);
  t.is((await contentRows(f.db)).length, 2);
});

eachTarget('a learner whose content cannot be stored gets an attempt and its error; the rest of the batch is stored', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass, members } = await classOf(f, 5);
  const bad = members[2]!;
  await failStorageFor(f.db, f.tdb.dialect, bad);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  t.like(await runAll(f), { processed: 4, retried: 1, failed: 0 });
  t.deepEqual((await contentRows(f.db)).map((r) => r.userId).sort(), members.filter((m) => m !== bad).sort());
  const [row] = await queueRows(f.db);
  t.like(row, { userId: bad, status: null, attempts: 1 });
  t.regex(row?.lastError ?? '', /simulated storage failure/);
  // The database's own message comes first, then only the start of the statement (knex
  // writes the whole statement, hundreds of characters, before the message).
  t.regex(row?.lastError ?? '', /^storing content failed: simulated storage failure \(in \S.{0,62}\)$/);
  // The statement is named with its placeholders, not its values: no learner's id or
  // content in the error, so one cause reads the same for every learner it hits.
  t.false(row?.lastError?.includes(bad), row?.lastError ?? '');
  t.notRegex(row?.lastError ?? '', /"units"|"lessons"/);
  // Backed off: not due yet, so dispatch leaves it.
  t.like(await dispatch(f.db, f.bus, settings), { dispatched: 0 });
});

eachTarget('after maxAttempts a failing row is marked failed and kept with its error', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass, members } = await classOf(f, 1);
  await failStorageFor(f.db, f.tdb.dialect, members[0]!);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  const fast = { ...settings, retryDelaySeconds: 0, maxAttempts: 2 };
  await dispatch(f.db, f.bus, fast);
  t.like(await runAll(f, fast), { retried: 1, failed: 0 });
  await dispatch(f.db, f.bus, fast);
  t.like(await runAll(f, fast), { retried: 0, failed: 1 });
  const [row] = await queueRows(f.db);
  t.like(row, { status: 'failed', attempts: 2 });
  t.like(await dispatch(f.db, f.bus, fast), { dispatched: 0 });
});

eachTarget('dispatch recovers rows whose lease expired; a row lost while processing uses an attempt', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 4);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  await f.redis.client.del(f.bus.key); // the messages are lost
  const [a, b, c] = (await queueRows(f.db)).map((r) => r.id);
  const longAgo = new Date(Date.now() - 3600_000);
  await f.db.knex('rescope_queue').whereIn('id', [a!, b!]).update({ updated_at: longAgo });
  await f.db.knex('rescope_queue').where('id', b!).update({ status: 'processing', attempts: 2 });
  await f.db.knex('rescope_queue').where('id', c!).update({ status: 'processing' }); // still within its lease
  const result = await dispatch(f.db, f.bus, settings);
  t.like(result, { recovered: 1, failed: 1, dispatched: 1 });
  const rows = new Map((await queueRows(f.db)).map((r) => [r.id, r]));
  t.like(rows.get(a!), { status: 'dispatched', attempts: 0 });
  t.like(rows.get(b!), { status: 'failed', attempts: 3 });
  t.regex(rows.get(b!)?.lastError ?? '', /lease of 600 s expired while processing/);
  t.like(rows.get(c!), { status: 'processing' });
});

eachTarget('process stops at --max and leaves the rest on the bus', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 10);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  t.like(await runAll(f, { batchSize: 3, max: 7 }), { processed: 7, stoppedBy: 'max' });
  t.is(await f.bus.length(), 3);
});

eachTarget('a stop signal ends the run before the next batch; nothing is lost', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 12);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  const controller = new AbortController();
  const result = await processQueue(f.db, f.bus, {
    ...settings,
    batchSize: 2,
    concurrency: 1,
    signal: controller.signal,
    onBatch: () => controller.abort(),
  });
  t.is(result.stoppedBy, 'signal');
  t.is(result.processed, 2);
  t.is(await f.bus.length(), 10);
  t.like(await runAll(f), { processed: 10 });
  t.is((await contentRows(f.db)).length, 12);
});

/**
 * PostgreSQL: 4 learners queued and dispatched, and a transaction holding rescoped_content
 * in `lockMode`, so the batches that process them wait behind it.
 */
async function dispatchedBehindLock(t: ExecutionContext, lockMode: 'SHARE' | 'ACCESS EXCLUSIVE') {
  const f = await rescopeFixture(t, 'postgres');
  const { klass } = await classOf(f, 4);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  const blocker = await f.db.knex.transaction();
  t.teardown(() => blocker.rollback().catch(() => undefined));
  await blocker.raw(`LOCK TABLE rescoped_content IN ${lockMode} MODE`);
  return { f, blocker };
}

postgresOnly('a stop signal after the bus ran empty still gives the running batches only their grace, then releases their rows', async (t) => {
  // The store waits on a lock the test holds: the batch is running when the bus is empty.
  const { f, blocker } = await dispatchedBehindLock(t, 'SHARE');
  const controller = new AbortController();
  const running = processQueue(f.db, f.bus, { ...settings, signal: controller.signal, stopGraceMs: 500 });
  const deadline = Date.now() + 30_000;
  while ((await f.bus.length()) > 0 || (await queueRows(f.db)).some((r) => r.status !== 'processing')) {
    if (Date.now() > deadline) throw new Error('the batch never started');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const signalled = performance.now();
  controller.abort(new Error('received SIGTERM'));
  const result = await running;
  t.true(performance.now() - signalled < 5_000, `returned ${Math.round(performance.now() - signalled)} ms after the signal`);
  t.is(result.released, 4);
  await blocker.rollback();
  t.deepEqual((await queueRows(f.db)).map((r) => r.status), [null, null, null, null], 'back in the queue');
});

// A stop while a batch is stuck behind a lock: in its claim (the claim reads
// rescoped_content, locked outright, and waits holding the queue rows it is moving) or in
// its store (a SHARE lock lets the claim through); with a free slot, or with every slot
// busy and ids still on the bus (the run then waits for a slot, not on the bus).
for (const [where, lockMode, heldStatus] of [
  ['its claim', 'ACCESS EXCLUSIVE', 'dispatched'],
  ['its store', 'SHARE', 'processing'],
] as const) {
  for (const concurrency of [1, 2]) {
    postgresOnly(`a stop while a batch is stuck behind a lock in ${where} (concurrency ${concurrency}) cancels its statements and gives its rows back, costing no attempt`, async (t) => {
      const { f, blocker } = await dispatchedBehindLock(t, lockMode);
      const controller = new AbortController();
      // Two batches of two: with one slot, the second stays on the bus.
      const running = processQueue(f.db, f.bus, { ...settings, batchSize: 2, concurrency, signal: controller.signal, stopGraceMs: 500 });
      const deadline = Date.now() + 30_000;
      while ((await lockWaiters(blocker, 'rescoped_content')) < concurrency) {
        if (Date.now() > deadline) throw new Error('the batches never waited on the lock');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const signalled = performance.now();
      controller.abort(new Error('received SIGTERM'));
      const result = await running;
      t.true(performance.now() - signalled < 5_000, `returned ${Math.round(performance.now() - signalled)} ms after the signal`);
      t.like(result, { released: 2 * concurrency, stoppedBy: 'signal', processed: 0, retried: 0, failed: 0 });
      const rows = (await blocker.raw('SELECT status, attempts FROM rescope_queue ORDER BY id')).rows as Array<{ status: string | null; attempts: number }>;
      t.is(rows.filter((r) => r.status === null).length, 2 * concurrency, JSON.stringify(rows));
      t.true(rows.every((r) => r.attempts === 0 && (r.status === null || r.status === 'dispatched')), `${JSON.stringify(rows)} (none left ${heldStatus})`);
      t.is(await f.bus.length(), 4 - 2 * concurrency, 'ids never taken stay on the bus');
      await blocker.rollback();
    });
  }
}

eachTarget('dispatch never fills the bus past --max-bus and says when it stopped for that', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 10);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  const first = await dispatch(f.db, f.bus, { ...settings, batchSize: 3, batches: 10, maxBusLength: 7 });
  t.like(first, { dispatched: 7, busFull: true });
  t.is(await f.bus.length(), 7);
  await runAll(f, { max: 5 });
  t.like(await dispatch(f.db, f.bus, { ...settings, batchSize: 3, batches: 10, maxBusLength: 7 }), { dispatched: 3, busFull: false });
  t.is(await f.bus.length(), 5);
});

eachTarget('process --wait-seconds picks up work that arrives while it waits', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const { klass } = await classOf(f, 3);
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  const running = processQueue(f.db, f.bus, { ...settings, waitMs: 1_500 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await dispatch(f.db, f.bus, settings);
  t.like(await running, { processed: 3, stoppedBy: 'bus-empty' });
});
