import test from 'ava';
import { type AccessFacts, decideAccess } from '../src/rescope/access-rule.js';

const learner = 'aaaaaaaa-0000-4000-8000-000000000001';
const classmate = 'aaaaaaaa-0000-4000-8000-000000000002';
const teacher = 'bbbbbbbb-0000-4000-8000-000000000001';
const coTeacher = 'bbbbbbbb-0000-4000-8000-000000000002';
const course = 'cccccccc-0000-4000-8000-000000000001';
const klass = 'dddddddd-0000-4000-8000-000000000001';

const inClass = (over: Partial<AccessFacts> = {}, classOver: Partial<NonNullable<AccessFacts['klass']>> = {}): AccessFacts => ({
  callerId: learner,
  targetId: learner,
  courseId: course,
  classId: klass,
  course: null,
  klass: { id: klass, courseId: course, creatorId: teacher, rescope: true, isDeleted: false, isArchived: false, ...classOver },
  targetIsActiveMember: true,
  callerIsCollaborator: false,
  ...over,
});
const independent = (over: Partial<AccessFacts> = {}, courseOver: Partial<NonNullable<AccessFacts['course']>> = {}): AccessFacts => ({
  callerId: learner,
  targetId: learner,
  courseId: course,
  classId: null,
  course: { id: course, version: 'v3', isDeleted: false, ...courseOver },
  klass: null,
  targetIsActiveMember: false,
  callerIsCollaborator: false,
  ...over,
});

test('independent learning: the learner themself, on a live course with a version', (t) => {
  t.deepEqual(decideAccess(independent()), { kind: 'allowed', as: 'learner' });
  t.like(decideAccess(independent({ callerId: teacher })), { kind: 'forbidden' });
  t.like(decideAccess(independent({}, { version: null })), { kind: 'not-applicable' });
  t.like(decideAccess(independent({}, { isDeleted: true })), { kind: 'not-applicable' });
  t.like(decideAccess(independent({ course: null })), { kind: 'not-applicable' });
  // Someone else asking about a course without version is refused, not told about the course.
  t.like(decideAccess(independent({ callerId: classmate }, { version: null })), { kind: 'forbidden' });
});

test('in class: the learner, the creator and a co-teacher may read an active member', (t) => {
  t.deepEqual(decideAccess(inClass()), { kind: 'allowed', as: 'learner' });
  t.deepEqual(decideAccess(inClass({ callerId: teacher })), { kind: 'allowed', as: 'teacher' });
  t.deepEqual(decideAccess(inClass({ callerId: coTeacher, callerIsCollaborator: true })), { kind: 'allowed', as: 'co-teacher' });
});

test('in class: each rule that fails is named', (t) => {
  const reason = (f: AccessFacts) => {
    const d = decideAccess(f);
    return d.kind === 'allowed' ? 'allowed' : `${d.kind}: ${d.reason}`;
  };
  t.regex(reason(inClass({ callerId: classmate })), /^forbidden: the caller .* is neither the learner nor a teacher or co-teacher/);
  t.regex(reason(inClass({ callerId: 'eeeeeeee-0000-4000-8000-000000000009' })), /^forbidden: .*neither the learner nor a teacher/);
  t.regex(reason(inClass({ targetIsActiveMember: false, callerId: teacher })), /^forbidden: user .* is not an active member of class/);
  t.regex(reason(inClass({}, { courseId: 'cccccccc-0000-4000-8000-000000000002' })), /^forbidden: class .* is not a class of course/);
  t.regex(reason(inClass({}, { isDeleted: true })), /^forbidden: class .* is deleted/);
  t.regex(reason(inClass({ klass: null })), /^forbidden: class .* does not exist/);
  t.regex(reason(inClass({}, { rescope: false })), /^not-applicable: class .* has rescope off/);
  // Access first: a stranger is refused even where rescope is off.
  t.regex(reason(inClass({ callerId: classmate }, { rescope: false })), /^forbidden/);
});
