import type { Database } from '../src/db/database.js';
import { toNumber, toUuid } from '../src/db/values.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { claimDispatched, completeProcessing } from '../src/rescope/queue-table.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { runCli } from './helpers/cli.js';
import { eachDialect } from './helpers/databases.js';
import { contentRows, enqueueRequests, queueRows, rescopeFixture } from './helpers/rescope.js';

const settings = { batchSize: 25, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 2, batches: 100 };
const twoLessons = { units: [[[{ competencies: ['a'] }], [{ format: 'collection', competencies: ['b'] }]]] };

async function overrideOf(db: Database): Promise<Map<string, boolean>> {
  const rows: Array<{ user_id: unknown; override: unknown }> = await db.knex('rescope_queue').select('user_id', 'override');
  return new Map(rows.map((r) => [toUuid(r.user_id), r.override === true || r.override === 1]));
}

eachDialect('override recomputes learners who have content and replaces it in place; a reader never finds it missing', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, twoLessons);
  const members = learners(120);
  const klass = await seedClass(f.db, { courseId: course.id, members });
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  t.like(await processQueue(f.db, f.bus, settings), { processed: 120 });
  const before = new Map((await f.db.knex('rescoped_content').select('id', 'user_id')).map((r: Record<string, unknown>) => [toUuid(r.user_id), toNumber(r.id)]));

  // Their competencies change; a plain request leaves stored content alone, as before.
  await seedCompetencies(f.db, Object.fromEntries(members.map((m) => [m, { a: 'mastered' }])));
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  t.like(await processQueue(f.db, f.bus, settings), { processed: 0, alreadyDone: 120 });
  t.true((await contentRows(f.db)).every((r) => r.content.assessments!.length === 0));

  t.like(await enqueueRequests(f.db, { source: 'rescope', classId: klass.id, override: true }), { queued: 120 });
  t.true([...(await overrideOf(f.db)).values()].every(Boolean));
  await dispatch(f.db, f.bus, settings);

  // Another connection polls the content table while process replaces it, batch by batch.
  const reader = await f.tdb.open(1);
  let running = true;
  let polls = 0;
  const missing: number[] = [];
  const polling = (async () => {
    while (running) {
      const [row] = await reader.knex('rescoped_content').where('class_id', klass.id).count({ n: '*' });
      const n = toNumber(row?.n);
      if (n !== members.length) missing.push(n);
      polls++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const result = await processQueue(f.db, f.bus, { ...settings, onBatch: () => new Promise((resolve) => setTimeout(resolve, 5)) });
  running = false;
  await polling;
  t.like(result, { processed: 120, alreadyDone: 0, failed: 0 });
  t.deepEqual(missing, [], 'every poll found every learner');
  t.true(polls > 1, `the reader polled ${polls} times`);
  const after = await contentRows(f.db);
  t.is(after.length, 120);
  const lesson = course.units[0]!.lessons[0]!;
  t.true(after.every((r) => r.content.assessments![0] === lesson.items[0] && r.content.lessons![0] === lesson.id), 'the new competencies are in');
  const ids = new Map((await f.db.knex('rescoped_content').select('id', 'user_id')).map((r: Record<string, unknown>) => [toUuid(r.user_id), toNumber(r.id)]));
  t.deepEqual(Object.fromEntries(ids), Object.fromEntries(before), 'replaced in place, not deleted and inserted');
  t.deepEqual(await queueRows(f.db), []);
});

eachDialect('an override request marks queued, failed and dispatched rows of its learners, and keeps the more urgent priority', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, twoLessons);
  const [queued, failed, inFlight, untouched] = learners(4) as [string, string, string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [queued, failed, inFlight, untouched] });
  await enqueueRequests(f.db, { source: 'oob', classId: klass.id, memberIds: [queued] }, { source: 'rescope', classId: klass.id });
  await f.db.knex('rescope_queue').where({ user_id: failed }).update({ status: 'failed', attempts: 5 });
  const longAgo = new Date(Date.now() - 3_600_000);
  await f.db.knex('rescope_queue').where({ user_id: inFlight }).update({ status: 'dispatched', updated_at: longAgo });

  const result = await enqueueRequests(f.db, { source: 'join.class', classId: klass.id, memberIds: [queued, failed, inFlight], override: true });
  t.like(result, { queued: 0, requeued: 1 });
  const rows = new Map((await queueRows(f.db)).map((r) => [r.userId, r]));
  const override = await overrideOf(f.db);
  t.true(override.get(queued));
  t.like(rows.get(queued), { priority: 1, source: 'oob', status: null }, 'an override does not lower the priority');
  t.true(override.get(failed));
  t.like(rows.get(failed), { status: null, attempts: 0, priority: 2, source: 'join.class' });
  t.true(override.get(inFlight));
  t.like(rows.get(inFlight), { status: 'dispatched' });
  const [lease] = await f.db.knex('rescope_queue').where({ user_id: inFlight }).pluck('updated_at');
  t.is(new Date(lease as string).getTime() || Number(lease), longAgo.getTime(), 'the lease clock of a row in flight is left alone');

  t.false(override.get(untouched));
  // A plain request afterwards does not take the override back.
  await enqueueRequests(f.db, { source: 'oob', classId: klass.id, memberIds: [queued, untouched] });
  t.true((await overrideOf(f.db)).get(queued));
  t.false((await overrideOf(f.db)).get(untouched));
});

eachDialect('an override request for a learner being processed sends the row back to the queue: the batch in flight stores what it read, and the next run computes the change', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, twoLessons);
  const [a] = learners(1) as [string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [a] });
  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  const [row] = await queueRows(f.db);
  // A worker claims the row and has read the statuses (none yet) ...
  t.like(await claimDispatched(f.db, [row!.id]), { rows: [{ id: row!.id }] });
  t.like((await queueRows(f.db))[0], { status: 'processing' });
  // ... when the learner masters a competency and the platform asks for an override.
  await seedCompetencies(f.db, { [a]: { a: 'mastered' } });
  t.like(await enqueueRequests(f.db, { source: 'oob', classId: klass.id, memberIds: [a], override: true }), { queued: 0, duplicates: 0, requeued: 1 });
  t.like((await queueRows(f.db))[0], { id: row!.id, status: null, priority: 1, source: 'oob' });
  t.true((await overrideOf(f.db)).get(a));
  // The worker stores what it computed: its completion finds the row no longer its own.
  await f.db.knex('rescoped_content').insert({ user_id: a, course_id: course.id, class_id: klass.id, skipped_content: '{"units":[],"lessons":[],"assessments":[],"collections":[],"assessmentsExternal":[],"collectionsExternal":[]}' });
  t.is(await f.db.knex.transaction((trx) => completeProcessing(trx, f.db.dialect, [row!.id])), 0, 'the row stays queued');
  t.is((await queueRows(f.db)).length, 1);
  await dispatch(f.db, f.bus, settings);
  t.like(await processQueue(f.db, f.bus, settings), { processed: 1, alreadyDone: 0 });
  const [content] = await contentRows(f.db);
  t.is(content!.content.assessments![0], course.units[0]!.lessons[0]!.items[0], 'the mastered competency is in');
  t.deepEqual(await queueRows(f.db), []);
});

eachDialect('a dispatched row marked override is claimed to replace its content, not deleted as done', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, twoLessons);
  const [a] = learners(1) as [string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [a] });
  await enqueueRequests(f.db, { source: 'join.class', classId: klass.id, memberIds: [a] });
  const [row] = await queueRows(f.db);
  await f.db.knex('rescope_queue').update({ status: 'dispatched', override: true });
  await f.db.knex('rescoped_content').insert({ user_id: a, course_id: course.id, class_id: klass.id, skipped_content: '{}' });
  t.like(await claimDispatched(f.db, [row!.id]), { alreadyDone: 0, rows: [{ id: row!.id, override: true }] }, 'claimed to replace the content');
  await f.db.knex('rescope_queue').update({ status: 'dispatched', override: false });
  t.like(await claimDispatched(f.db, [row!.id]), { alreadyDone: 1, rows: [] }, 'deleted as done');
  t.deepEqual(await queueRows(f.db), []);
});

eachDialect('enqueue --override and "override": true in JSON lines queue override rows', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, twoLessons);
  const [a, b, c] = learners(3) as [string, string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [a, b, c] });
  const byFlag = await runCli(['enqueue', '--source', 'join.class', '--class', klass.id, '--member', a, '--override', '--json'], { env: f.env });
  t.is(byFlag.code, 0, byFlag.stderr);
  const lines = [
    JSON.stringify({ source: 'join.class', classId: klass.id, memberIds: [b], override: true }),
    JSON.stringify({ source: 'join.class', classId: klass.id, memberIds: [c] }),
    JSON.stringify({ source: 'join.class', classId: klass.id, memberIds: [c], override: 'yes' }),
  ].join('\n');
  const byLines = await runCli(['enqueue', '--jsonl', '-', '--json'], { env: f.env, stdin: lines });
  t.is(byLines.code, 6);
  t.deepEqual(byLines.json<{ rejected: unknown[] }>().rejected, [{ line: 3, error: 'override must be true or false; got "yes"' }]);
  t.deepEqual(Object.fromEntries(await overrideOf(f.db)), { [a]: true, [b]: true, [c]: false });
  await f.db.knex('rescope_queue').del();
  const all = await runCli(['enqueue', '--jsonl', '-', '--override', '--json'], { env: f.env, stdin: lines.split('\n').slice(0, 2).join('\n') });
  t.is(all.code, 0, all.stderr);
  t.deepEqual(Object.fromEntries(await overrideOf(f.db)), { [b]: true, [c]: true });
});
