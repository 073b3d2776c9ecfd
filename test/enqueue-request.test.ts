import test from 'ava';
import { parseEnqueueRequest } from '../src/rescope/enqueue-request.js';
import { resolveTarget } from '../src/rescope/enqueue-target.js';
import type { ClassFacts, CourseFacts } from '../src/rescope/reference-data.js';

const klass = '11111111-1111-4111-8111-111111111111';
const course = '22222222-2222-4222-8222-222222222222';
const other = '33333333-3333-4333-8333-333333333333';
const member = 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA';

test('valid requests of each source', (t) => {
  const join = parseEnqueueRequest({ source: 'join.class', classId: klass, memberIds: [member, member.toLowerCase()] });
  t.true(join.ok);
  if (join.ok) {
    t.deepEqual(join.value.memberIds, [member.toLowerCase()], 'ids are lower-cased and de-duplicated');
    t.is(join.value.repeatedMembers, 1);
  }
  t.true(parseEnqueueRequest({ source: 'assign.course.to.class', classId: klass }).ok);
  t.true(parseEnqueueRequest({ source: 'rescope', classId: klass, memberIds: [] }).ok);
  t.true(parseEnqueueRequest({ source: 'oob', courseId: course, memberIds: [member] }).ok);
  t.true(parseEnqueueRequest({ source: 'oob', classId: klass, memberIds: [member] }).ok);
});

test('each shape error names the field and what is allowed', (t) => {
  const error = (input: unknown) => {
    const r = parseEnqueueRequest(input);
    return r.ok ? 'accepted' : r.error;
  };
  t.regex(error([1]), /must be a JSON object/);
  t.regex(error({ source: 'join' }), /^source must be one of oob, join\.class, assign\.course\.to\.class, rescope; got "join"$/);
  t.regex(error({ source: 'rescope', classId: 'abc' }), /^classId must be a UUID; got "abc"$/);
  t.regex(error({ source: 'oob', courseId: 7, memberIds: [member] }), /^courseId must be a UUID; got 7$/);
  t.regex(error({ source: 'join.class', classId: klass, memberIds: member }), /^memberIds must be an array of UUIDs/);
  t.regex(error({ source: 'join.class', classId: klass, memberIds: [member, 'x'] }), /^memberIds\[1\] must be a UUID; got "x"$/);
  t.regex(error({ source: 'join.class', classId: klass }), /^join\.class needs memberIds/);
  t.regex(error({ source: 'join.class', memberIds: [member] }), /^join\.class needs classId$/);
  t.regex(error({ source: 'oob', memberIds: [member] }), /^oob needs classId, or courseId for independent learning$/);
  t.regex(error({ source: 'rescope' }), /^rescope needs classId$/);
  t.regex(error({ source: 'rescope', classId: klass, memberIds: [member] }), /^rescope takes no memberIds/);
  t.regex(error({ source: 'rescope', classId: klass, members: [] }), /^unknown field "members"/);
});

test('override is an optional JSON boolean, false unless given as true', (t) => {
  const base = { source: 'oob', courseId: course, memberIds: [member] };
  const value = (input: object) => {
    const r = parseEnqueueRequest(input);
    return r.ok ? r.value.override : r.error;
  };
  t.is(value(base), false);
  t.is(value({ ...base, override: null }), false);
  t.is(value({ ...base, override: false }), false);
  t.is(value({ ...base, override: true }), true);
  t.is(value({ source: 'rescope', classId: klass, override: true }), true);
  t.is(value({ ...base, override: 'true' }), 'override must be true or false; got "true"');
  t.is(value({ ...base, override: 1 }), 'override must be true or false; got 1');
});

test('flag names replace field names in messages for the command line', (t) => {
  const r = parseEnqueueRequest({ source: 'join.class', classId: 'nope' }, { source: '--source', classId: '--class', courseId: '--course', memberIds: '--member' });
  t.false(r.ok);
  if (!r.ok) t.is(r.error, '--class must be a UUID; got "nope"');
});

function facts(overrides: Partial<ClassFacts> = {}): Map<string, ClassFacts> {
  return new Map([[klass, { id: klass, courseId: course, creatorId: other, rescope: true, isDeleted: false, isArchived: false, ...overrides }]]);
}
const courses = (overrides: Partial<CourseFacts> = {}) => new Map([[course, { id: course, version: 'v2', isDeleted: false, ...overrides }]]);
const req = (input: object) => {
  const r = parseEnqueueRequest(input);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

test('a class request targets the class course, or says why not', (t) => {
  const join = req({ source: 'join.class', classId: klass, memberIds: [member] });
  t.deepEqual(resolveTarget(join, facts(), new Map()), { kind: 'queue', courseId: course, classId: klass });
  t.like(resolveTarget(join, new Map(), new Map()), { kind: 'rejected', reason: 'not-found' });
  t.like(resolveTarget(join, facts({ isDeleted: true }), new Map()), { kind: 'rejected', reason: 'not-applicable', error: `class ${klass} is deleted` });
  t.like(resolveTarget(join, facts({ isArchived: true }), new Map()), { kind: 'rejected', reason: 'not-applicable' });
  t.like(resolveTarget(join, facts({ courseId: null }), new Map()), { kind: 'rejected', error: `class ${klass} has no course assigned` });
  t.deepEqual(resolveTarget(join, facts({ rescope: false }), new Map()), { kind: 'rescope-off', classId: klass });
  const wrongCourse = req({ source: 'join.class', classId: klass, courseId: other, memberIds: [member] });
  t.like(resolveTarget(wrongCourse, facts(), new Map()), { kind: 'rejected', reason: 'invalid' });
});

test('independent learning needs a live course with a version', (t) => {
  const il = req({ source: 'oob', courseId: course, memberIds: [member] });
  t.deepEqual(resolveTarget(il, new Map(), courses()), { kind: 'queue', courseId: course, classId: null });
  t.like(resolveTarget(il, new Map(), courses({ version: null })), { kind: 'rejected', reason: 'not-applicable' });
  t.like(resolveTarget(il, new Map(), courses({ isDeleted: true })), { kind: 'rejected', reason: 'not-applicable' });
  t.like(resolveTarget(il, new Map(), new Map()), { kind: 'rejected', reason: 'not-found' });
});
