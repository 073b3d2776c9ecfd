import { dispatch } from '../src/rescope/dispatch.js';
import { achievedCompetencies } from '../src/rescope/achieved-competencies.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { eachDialect } from './helpers/databases.js';
import { contentRows, enqueueRequests, rescopeFixture } from './helpers/rescope.js';

const settings = { batchSize: 100, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1 };

eachDialect('competency codes come back as they are stored: a code holding U+001F is one code, the empty code counts', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, {
    units: [
      [[{ competencies: ['W', 'X'] }], [{ format: 'collection', competencies: [''] }], [{ competencies: ['a,b', 'c"d\\'] }]],
      [[{ format: 'assessment-external', competencies: ['W\u001fX'] }]],
    ],
  });
  const [joined, empty, quoted] = learners(3) as [string, string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [joined, empty, quoted] });
  await seedCompetencies(f.db, {
    [joined]: { 'W\u001fX': 'mastered' },
    [empty]: { '': 'completed' },
    [quoted]: { 'a,b': 'mastered', 'c"d\\': 'completed', W: 'in-progress' },
  });

  const achieved = await achievedCompetencies(f.db, [joined, empty, quoted], [course.id]);
  t.deepEqual(achieved.get(joined), ['W\u001fX']);
  t.deepEqual(achieved.get(empty), ['']);
  t.deepEqual(achieved.get(quoted)?.sort(), ['a,b', 'c"d\\']);
  // The same with the course's codes given (PostgreSQL binds them as one array).
  const codes = new Set(['W', 'X', '', 'a,b', 'c"d\\', 'W\u001fX']);
  const sorted = (m: Map<string, string[]>) => new Map([...m].map(([user, list]) => [user, [...list].sort()]));
  t.deepEqual(sorted(await achievedCompetencies(f.db, [joined, empty, quoted], [course.id], codes)), sorted(achieved));

  await enqueueRequests(f.db, { source: 'rescope', classId: klass.id });
  await dispatch(f.db, f.bus, settings);
  t.like(await processQueue(f.db, f.bus, settings), { processed: 3 });
  const byUser = new Map((await contentRows(f.db)).map((r) => [r.userId, r.content]));
  const [lesson1, lesson2, lesson3] = course.units[0]!.lessons as [{ id: string; items: string[] }, { id: string; items: string[] }, { id: string; items: string[] }];
  t.deepEqual(byUser.get(joined)?.assessments, [], 'mastering "W\\u001fX" is not mastering W and X');
  t.deepEqual(byUser.get(joined)?.assessmentsExternal, [course.units[1]!.lessons[0]!.items[0]]);
  t.deepEqual(byUser.get(empty)?.collections, [lesson2.items[0]]);
  t.deepEqual(byUser.get(empty)?.lessons, [lesson2.id]);
  t.deepEqual(byUser.get(quoted)?.assessments, [lesson3.items[0]]);
  t.false(byUser.get(quoted)?.lessons.includes(lesson1.id));
});

eachDialect('a code holding a line feed is one code whether or not the course codes are given', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['L\nF', 'L', 'F'] }], [{ competencies: ['', 'M'] }]]] });
  const [fed, plain] = learners(2) as [string, string];
  await seedClass(f.db, { courseId: course.id, members: [fed, plain] });
  await seedCompetencies(f.db, { [fed]: { 'L\nF': 'mastered', '': 'completed' }, [plain]: { L: 'mastered', F: 'completed', '': 'completed', M: 'completed' } });
  // In no particular order, learners and codes alike.
  const sorted = (m: Map<string, string[]>) => new Map([...m].map(([user, list]): [string, string[]] => [user, [...list].sort()]).sort(([a], [b]) => a.localeCompare(b)));
  const expected = sorted(
    new Map([
      [fed, ['', 'L\nF']],
      [plain, ['', 'F', 'L', 'M']],
    ]),
  );
  t.deepEqual(sorted(await achievedCompetencies(f.db, [fed, plain], [course.id])), expected);
  // With every code bound: one of them holds a line feed, so the codes come back as JSON.
  t.deepEqual(sorted(await achievedCompetencies(f.db, [fed, plain], [course.id], new Set(['L\nF', 'L', 'F', '', 'M']))), expected);
});
