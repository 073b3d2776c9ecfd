import { learners, seedClass, seedCourse } from '../src/seed/course-world.js';
import { insertQueueRows } from '../src/rescope/queue-table.js';
import { eachDialect } from './helpers/databases.js';
import { enqueueRequests, queueRows, rescopeFixture } from './helpers/rescope.js';

const oneItem = { units: [[[{ competencies: ['a'] }]]] };

eachDialect('a class-wide request queues every active member once, at its source priority', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const active = learners(5);
  const klass = await seedClass(db, { courseId: course.id, members: active, inactiveMembers: learners(2) });
  const first = await enqueueRequests(db, { source: 'assign.course.to.class', classId: klass.id });
  t.like(first, { queued: 5, duplicates: 0, dropped: 0, rejected: [] });
  const rows = await queueRows(db);
  t.deepEqual(rows.map((r) => r.userId).sort(), [...active].sort());
  t.true(rows.every((r) => r.courseId === course.id && r.classId === klass.id && r.priority === 3 && r.status === null && r.source === 'assign.course.to.class'));
  const again = await enqueueRequests(db, { source: 'rescope', classId: klass.id });
  t.like(again, { queued: 0, duplicates: 5 });
  t.is((await queueRows(db)).length, 5);
});

eachDialect('join.class drops member ids that are not active members, and counts repeats as duplicates', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const [a, b, gone, stranger] = learners(4) as [string, string, string, string];
  const klass = await seedClass(db, { courseId: course.id, members: [a, b], inactiveMembers: [gone] });
  const result = await enqueueRequests(db, { source: 'join.class', classId: klass.id, memberIds: [a, b, a, gone, stranger] });
  t.like(result, { queued: 2, duplicates: 1, dropped: 2 });
  t.deepEqual((await queueRows(db)).map((r) => [r.userId, r.priority]).sort(), [[a, 2], [b, 2]].sort());
});

eachDialect('a class with rescope off queues nothing and says so', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const klass = await seedClass(db, { courseId: course.id, members: learners(3), rescope: false });
  const result = await enqueueRequests(db, { source: 'rescope', classId: klass.id });
  t.deepEqual(result.rescopeOff, [{ line: 1, classId: klass.id }]);
  t.is(result.queued, 0);
  t.is((await queueRows(db)).length, 0);
});

eachDialect('bad classes and courses are rejected with their line; the good requests are still queued', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const noVersion = await seedCourse(db, { ...oneItem, version: null });
  const [a] = learners(1) as [string];
  const good = await seedClass(db, { courseId: course.id, members: [a] });
  const deleted = await seedClass(db, { courseId: course.id, members: [a], deleted: true });
  const archived = await seedClass(db, { courseId: course.id, members: [a], archived: true });
  const missing = '99999999-9999-4999-8999-999999999999';
  const result = await enqueueRequests(
    db,
    { source: 'join.class', classId: deleted.id, memberIds: [a] },
    { source: 'join.class', classId: archived.id, memberIds: [a] },
    { source: 'rescope', classId: missing },
    { source: 'join.class', classId: good.id, courseId: noVersion.id, memberIds: [a] },
    { source: 'oob', courseId: noVersion.id, memberIds: [a] },
    { source: 'oob', courseId: missing, memberIds: [a] },
    { source: 'join.class', classId: good.id, memberIds: [a] },
    { source: 'oob', courseId: course.id, memberIds: [a] },
  );
  t.deepEqual(
    result.rejected.map((r) => [r.line, r.reason]),
    [[1, 'not-applicable'], [2, 'not-applicable'], [3, 'not-found'], [4, 'invalid'], [5, 'not-applicable'], [6, 'not-found']],
  );
  t.regex(result.rejected[4]!.error, /has no version: rescope does not apply to it in independent learning/);
  t.is(result.queued, 2, 'one in class, one in independent learning');
  const rows = await queueRows(db);
  t.deepEqual(rows.map((r) => r.classId).sort(), [good.id, null].sort());
});

eachDialect('independent learning and class rows for the same learner and course are separate rows', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const [a] = learners(1) as [string];
  const klass = await seedClass(db, { courseId: course.id, members: [a] });
  t.like(await enqueueRequests(db, { source: 'oob', courseId: course.id, memberIds: [a] }, { source: 'oob', classId: klass.id, memberIds: [a] }), { queued: 2 });
  t.like(await enqueueRequests(db, { source: 'oob', courseId: course.id, memberIds: [a] }), { queued: 0, duplicates: 1 });
});

eachDialect('a more urgent request raises the priority of a queued row; a failed row is queued again', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const [a, b] = learners(2) as [string, string];
  const klass = await seedClass(db, { courseId: course.id, members: [a, b] });
  await enqueueRequests(db, { source: 'rescope', classId: klass.id });
  await db.knex('rescope_queue').where({ user_id: b }).update({ status: 'failed', attempts: 5, last_error: 'boom' });
  const result = await enqueueRequests(db, { source: 'oob', classId: klass.id, memberIds: [a, b] });
  t.like(result, { queued: 0, duplicates: 1, requeued: 1 });
  const rows = await queueRows(db);
  t.deepEqual(rows.map((r) => [r.userId, r.priority, r.source, r.status, r.attempts]).sort(), [[a, 1, 'oob', null, 0], [b, 1, 'oob', null, 0]].sort());
  // A less urgent request leaves the priority alone.
  await enqueueRequests(db, { source: 'rescope', classId: klass.id });
  t.true((await queueRows(db)).every((r) => r.priority === 1));
});

eachDialect('a request for more learners than one statement can bind is inserted in chunks', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  // 15,000 rows × 5 columns = 75,000 parameters: more than PostgreSQL (65,535) or SQLite (32,766) bind at once.
  const many = learners(15_000);
  const klass = await seedClass(db, { courseId: course.id, members: many });
  const result = await enqueueRequests(db, { source: 'join.class', classId: klass.id, memberIds: many });
  t.like(result, { queued: 15_000, duplicates: 0, dropped: 0 });
  t.is((await queueRows(db)).length, 15_000);
});

eachDialect('rows split over several statements land together: one that fails leaves none of them', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const rows = learners(1_500).map((userId) => ({ userId, courseId: course.id, classId: null, source: 'oob' as const, override: false }));
  // The last row breaks NOT NULL: on SQLite it is in the third statement of 500 rows.
  const broken = [...rows.slice(0, -1), { ...rows[rows.length - 1]!, userId: null as unknown as string }];
  t.is(await insertQueueRows(db, broken).then(() => 'inserted', () => 'refused'), 'refused');
  t.is((await queueRows(db)).length, 0, 'the first statements were rolled back with the failed one');
  t.is(await insertQueueRows(db, rows), 1_500);
});

eachDialect('re-queuing a failed row keeps the more urgent of its priority and the new request\'s', async (t, dialect) => {
  const { db } = await rescopeFixture(t, dialect);
  const course = await seedCourse(db, oneItem);
  const [waiting, other] = learners(2) as [string, string];
  const klass = await seedClass(db, { courseId: course.id, members: [waiting, other] });
  await enqueueRequests(db, { source: 'oob', classId: klass.id, memberIds: [waiting] }, { source: 'rescope', classId: klass.id });
  await db.knex('rescope_queue').update({ status: 'failed', attempts: 5, last_error: 'boom' });
  t.like(await enqueueRequests(db, { source: 'rescope', classId: klass.id }), { queued: 0, requeued: 2, duplicates: 0 });
  const rows = new Map((await queueRows(db)).map((r) => [r.userId, r]));
  t.like(rows.get(waiting), { status: null, attempts: 0, priority: 1, source: 'oob' }, 'the oob row is not sent behind the class');
  t.like(rows.get(other), { status: null, attempts: 0, priority: 4, source: 'rescope' });
  // And a more urgent request re-queuing a failed row still raises it.
  await db.knex('rescope_queue').where({ user_id: other }).update({ status: 'failed' });
  await enqueueRequests(db, { source: 'join.class', classId: klass.id, memberIds: [other] });
  t.like((await queueRows(db)).find((r) => r.userId === other), { status: null, priority: 2, source: 'join.class' });
});
