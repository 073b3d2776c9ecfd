/**
 * The world of the Fetch specs (rescope-show and serve): a course, classes in every state
 * the access rule looks at, learners, a co-teacher; sessions in Redis; and the access
 * matrix, each rule with a request that passes or fails it.
 */
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { type ShowRequest, rescopeShow } from '../../src/rescope/show.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../../src/seed/course-world.js';
import type { Target } from './databases.js';
import { type RescopeFixture, rescopeFixture } from './rescope.js';

export type FetchCase = Omit<ShowRequest, 'token'> & { caller: string };

export interface World {
  f: RescopeFixture;
  sessionPrefix: string;
  token(userId: string): Promise<string>;
  show(request: FetchCase): ReturnType<typeof rescopeShow>;
  course: Awaited<ReturnType<typeof seedCourse>>;
  noVersion: Awaited<ReturnType<typeof seedCourse>>;
  otherCourse: Awaited<ReturnType<typeof seedCourse>>;
  klass: { id: string; creatorId: string };
  offClass: { id: string };
  deletedClass: { id: string };
  archivedClass: { id: string };
  otherClass: { id: string; creatorId: string };
  learner: string;
  classmate: string;
  inactive: string;
  stranger: string;
  coTeacher: string;
}

export async function world(t: ExecutionContext, target: Target): Promise<World> {
  const f = await rescopeFixture(t, target);
  const sessionPrefix = `${f.redis.prefix}session:`;
  const units = [[[{ competencies: ['a'] }, { format: 'collection', competencies: ['b'] }]], [[{ competencies: ['c'] }]]];
  const course = await seedCourse(f.db, { units });
  const noVersion = await seedCourse(f.db, { units, version: null });
  const otherCourse = await seedCourse(f.db, { units });
  const [learner, classmate, inactive, stranger, coTeacher] = learners(5) as [string, string, string, string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [learner, classmate], inactiveMembers: [inactive], collaborators: [coTeacher] });
  const offClass = await seedClass(f.db, { courseId: course.id, members: [learner], rescope: false });
  const deletedClass = await seedClass(f.db, { courseId: course.id, members: [learner], deleted: true });
  const archivedClass = await seedClass(f.db, { courseId: course.id, members: [learner], archived: true });
  const otherClass = await seedClass(f.db, { courseId: otherCourse.id, members: [learner] });
  await seedCompetencies(f.db, { [learner]: { a: 'mastered', b: 'completed' } });
  const token = async (userId: string) => {
    // Base64 text, as the platform's tokens are (the HTTP front accepts nothing else).
    const value = randomBytes(18).toString('base64');
    await f.redis.client.set(`${sessionPrefix}${value}`, JSON.stringify({ user_id: userId }), 'EX', 600);
    return value;
  };
  const show = async ({ caller, ...rest }: FetchCase) =>
    rescopeShow(f.db, f.redis.client, { ...rest, token: await token(caller) }, { sessionPrefix });
  return { f, sessionPrefix, token, show, course, noVersion, otherCourse, klass, offClass, deletedClass, archivedClass, otherClass, learner, classmate, inactive, stranger, coTeacher };
}

/**
 * Each rule of the access matrix with the outcome it gives: only the allowed requests
 * queue anything, three rows in all (the learner in independent learning and in class,
 * where teacher and co-teacher ask for the same row, and the classmate in class).
 */
export function accessCases(w: World): Array<[string, FetchCase, 'queued' | 'forbidden' | 'not-applicable']> {
  const c = w.course.id;
  return [
    ['learner in independent learning', { caller: w.learner, courseId: c, classId: null }, 'queued'],
    ['another user in independent learning', { caller: w.classmate, courseId: c, classId: null, userId: w.learner }, 'forbidden'],
    ['course without version', { caller: w.learner, courseId: w.noVersion.id, classId: null }, 'not-applicable'],
    ['teacher', { caller: w.klass.creatorId, courseId: c, classId: w.klass.id, userId: w.learner }, 'queued'],
    ['co-teacher', { caller: w.coTeacher, courseId: c, classId: w.klass.id, userId: w.learner }, 'queued'],
    ['teacher of another class', { caller: w.otherClass.creatorId, courseId: c, classId: w.klass.id, userId: w.learner }, 'forbidden'],
    ['learner reading themself in class', { caller: w.classmate, courseId: c, classId: w.klass.id }, 'queued'],
    ['learner reading a classmate', { caller: w.classmate, courseId: c, classId: w.klass.id, userId: w.learner }, 'forbidden'],
    ['target not a member', { caller: w.klass.creatorId, courseId: c, classId: w.klass.id, userId: w.stranger }, 'forbidden'],
    ['target no longer active', { caller: w.klass.creatorId, courseId: c, classId: w.klass.id, userId: w.inactive }, 'forbidden'],
    ['class of another course', { caller: w.learner, courseId: c, classId: w.otherClass.id }, 'forbidden'],
    ['deleted class', { caller: w.learner, courseId: c, classId: w.deletedClass.id }, 'forbidden'],
    ['rescope off', { caller: w.learner, courseId: c, classId: w.offClass.id }, 'not-applicable'],
  ];
}
