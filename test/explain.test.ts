import { randomUUID } from 'node:crypto';
import test from 'ava';
import { dispatch } from '../src/rescope/dispatch.js';
import { type ExplainedUnit, explainSkips } from '../src/rescope/explain.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { type CourseItem, buildCourseStructure, formatLists, skippedContentFor } from '../src/rescope/skip-rule.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { runCli } from './helpers/cli.js';
import { eachDialect } from './helpers/databases.js';
import { contentRows, enqueueRequests, rescopeFixture } from './helpers/rescope.js';

const settings = { batchSize: 100, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1 };

/** The stored document an explanation implies: skipped ids in course order, each listed once. */
function contentFromExplanation(units: ExplainedUnit[]): Record<string, string[]> {
  const content: Record<string, string[]> = { units: [], lessons: [], assessments: [], collections: [], assessmentsExternal: [], collectionsExternal: [] };
  for (const unit of units) {
    if (unit.skipped) content.units!.push(unit.id);
    for (const lesson of unit.lessons) {
      if (lesson.skipped && !content.lessons!.includes(lesson.id)) content.lessons!.push(lesson.id);
      for (const item of lesson.items) if (item.skipped) content[formatLists[item.format as keyof typeof formatLists]]!.push(item.id);
    }
  }
  return content;
}

test('the explanation is the rule\'s own result: flags, statuses and reasons, a lesson under two units included', (t) => {
  let seq = 0;
  const item = (unitId: string, lessonId: string, competencies: string[], format = 'assessment'): CourseItem => ({ id: `i${++seq}`, unitId, lessonId, format, sequence: seq, competencies });
  const course = buildCourseStructure('c', [
    item('u1', 'L', ['a', 'b']),
    item('u1', 'M', []),
    item('u2', 'L', ['c'], 'collection'),
    item('u2', 'N', ['a'], 'offline'),
    item('u3', 'P', ['a']),
  ]);
  const statuses = new Map([['a', 'mastered'], ['b', 'completed']] as const);
  const explanation = explainSkips(course, statuses);
  t.deepEqual(explanation.content, skippedContentFor(course, ['a', 'b']));
  t.deepEqual(contentFromExplanation(explanation.units), { ...explanation.content });
  const [u1, u2, u3] = explanation.units as [ExplainedUnit, ExplainedUnit, ExplainedUnit];
  t.deepEqual(u1.lessons[0]!.items[0], { id: 'i1', format: 'assessment', skipped: true, competencies: [{ code: 'a', status: 'mastered' }, { code: 'b', status: 'completed' }] });
  t.false(u1.lessons[0]!.skipped, 'lesson L also has an item under u2 that is not skipped');
  t.is(u1.lessons[1]!.items[0]!.reason, 'no competency');
  t.like(u2.lessons[0]!.items[0], { skipped: false, reason: 'not every competency completed or mastered', competencies: [{ code: 'c', status: 'none' }] });
  t.like(u2.lessons[1]!.items[0], { skipped: false, reason: 'format never skipped' });
  t.like(u3, { id: 'u3', skipped: true, lessons: [{ id: 'P', skipped: true }] });
});

eachDialect('rescope-show --explain agrees with the stored content for a learner with partly covered lessons; same access rules', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, {
    units: [
      [[{ competencies: ['a'] }, { format: 'collection', competencies: ['b'] }], [{ competencies: ['c'] }, { format: 'assessment-external', competencies: ['d', 'e'] }]],
      [[{ format: 'collection-external', competencies: [] }], [{ competencies: ['a'] }]],
    ],
  });
  const [learner, stranger] = learners(2) as [string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [learner] });
  await seedCompetencies(f.db, { [learner]: { a: 'mastered', b: 'completed', c: 'mastered', d: 'mastered', e: 'in-progress' } });
  await enqueueRequests(f.db, { source: 'join.class', classId: klass.id, memberIds: [learner] });
  await dispatch(f.db, f.bus, settings);
  await processQueue(f.db, f.bus, settings);
  const [stored] = await contentRows(f.db);
  const [l1, l2, , l4] = course.units.flatMap((u) => u.lessons);
  t.deepEqual(stored!.content, {
    units: [], lessons: [l1!.id, l4!.id], assessments: [l1!.items[0]!, l2!.items[0]!, l4!.items[0]!], collections: [l1!.items[1]!], assessmentsExternal: [], collectionsExternal: [],
  }, 'lesson 2 is partly covered: c mastered, e only in progress');

  const sessionPrefix = `${f.redis.prefix}session:`;
  const env = { ...f.env, MTC_BATCH_SESSION_PREFIX: sessionPrefix };
  const token = async (userId: string) => {
    const value = randomUUID();
    await f.redis.client.set(`${sessionPrefix}${value}`, JSON.stringify({ user_id: userId }), 'EX', 600);
    return value;
  };
  const show = async (caller: string, ...more: string[]) =>
    runCli(['rescope-show', '--token', await token(caller), '--course', course.id, '--class', klass.id, '--user', learner, '--explain', ...more], { env });

  const r = await show(learner, '--json');
  t.is(r.code, 0, r.stderr);
  const out = r.json<{ status: string; content: unknown; explain: ExplainedUnit[]; explainMatchesStored: boolean }>();
  t.is(out.status, 'found');
  t.deepEqual(out.content, stored!.content);
  t.true(out.explainMatchesStored);
  t.deepEqual(contentFromExplanation(out.explain), stored!.content);
  t.deepEqual(out.explain.map((u) => u.id), course.units.map((u) => u.id), 'units in course order');
  t.deepEqual(out.explain[0]!.lessons[1], {
    id: l2!.id,
    skipped: false,
    items: [
      { id: l2!.items[0]!, format: 'assessment', skipped: true, competencies: [{ code: 'c', status: 'mastered' }] },
      { id: l2!.items[1]!, format: 'assessment-external', skipped: false, reason: 'not every competency completed or mastered', competencies: [{ code: 'd', status: 'mastered' }, { code: 'e', status: 'none' }] },
    ],
  });
  t.like(out.explain[1]!.lessons[0]!.items[0], { skipped: false, reason: 'no competency', competencies: [] });

  const human = await runCli(['rescope-show', '--token', await token(klass.creatorId), '--course', course.id, '--class', klass.id, '--user', learner, '--explain'], { env: { ...env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(human.code, 0, human.stderr);
  t.true(human.stdout.startsWith(JSON.stringify(stored!.content)), 'the stored content first, exactly as stored');
  t.regex(human.stdout, new RegExp(`unit ${course.units[0]!.id}: not skipped\\n  lesson ${l1!.id}: skipped\\n    assessment ${l1!.items[0]}: skipped \\(a mastered\\)\\n    collection ${l1!.items[1]}: skipped \\(b completed\\)\\n  lesson ${l2!.id}: not skipped\\n`));
  t.regex(human.stdout, new RegExp(`assessment-external ${l2!.items[1]}: not skipped, not every competency completed or mastered \\(d mastered, e none\\)`));

  // Access is rescope-show's: a stranger learns nothing, explanation included.
  const refused = await show(stranger, '--json');
  t.is(refused.code, 4);
  t.deepEqual(Object.keys(refused.json()).sort(), ['reason', 'status']);

  // Competencies changed since the content was computed: the explanation says so.
  await f.db.knex('user_competency_status').where({ user_id: learner, competency_code: 'e' }).update({ status: 'completed' });
  const changed = await show(learner, '--json');
  t.false(changed.json<{ explainMatchesStored: boolean }>().explainMatchesStored);
  const changedHuman = await show(learner);
  t.regex(changedHuman.stdout, /the stored content differs from what these competencies give now[^\n]*--override/);
});
