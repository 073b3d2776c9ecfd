/** The pure parts of the HTTP front: who may ask for a rescope, the Fetch query, outcomes as answers. */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { fetchAnswer, rescopeAnswer } from '../src/http/answers.js';
import { isJsonContentType, parseFetchQuery } from '../src/http/requests.js';
import { decideRescopeRequest } from '../src/rescope/request-access-rule.js';
import type { ClassFacts } from '../src/rescope/reference-data.js';

const [caller, other, classId, courseId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
const klass = (creatorId: string): ClassFacts => ({ id: classId, courseId, creatorId, rescope: true, isDeleted: false, isArchived: false });

test('decideRescopeRequest: a learner for themself alone, else the creator or a co-teacher', (t) => {
  const decide = (request: Parameters<typeof decideRescopeRequest>[0]['request'], facts: { klass?: ClassFacts | null; co?: boolean } = {}) =>
    decideRescopeRequest({ callerId: caller, request, klass: facts.klass === undefined ? klass(other) : facts.klass, callerIsCollaborator: facts.co ?? false }).kind;
  t.is(decide({ source: 'join.class', classId, memberIds: [caller] }), 'allowed');
  t.is(decide({ source: 'oob', classId: null, memberIds: [caller] }, { klass: null }), 'allowed');
  t.is(decide({ source: 'oob', classId, memberIds: [caller] }, { klass: null }), 'allowed', 'for themself even in an unknown class: enqueue says not found');
  t.is(decide({ source: 'join.class', classId, memberIds: [other] }), 'forbidden');
  t.is(decide({ source: 'join.class', classId, memberIds: [caller, other] }), 'forbidden');
  t.is(decide({ source: 'oob', classId: null, memberIds: [other] }, { klass: null }), 'forbidden');
  t.is(decide({ source: 'rescope', classId, memberIds: [] }), 'forbidden');
  t.is(decide({ source: 'rescope', classId, memberIds: [] }, { klass: klass(caller) }), 'allowed');
  t.is(decide({ source: 'assign.course.to.class', classId, memberIds: [] }, { co: true }), 'allowed');
  t.is(decide({ source: 'join.class', classId, memberIds: [other] }, { co: true }), 'allowed');
  t.is(decide({ source: 'rescope', classId, memberIds: [] }, { klass: null }), 'unknown-class');
});

test('parseFetchQuery: courseId required, every id a UUID, no parameter twice, empty is absent', (t) => {
  t.deepEqual(parseFetchQuery({ courseId: courseId.toUpperCase() }), { ok: true, value: { courseId, classId: null } });
  t.deepEqual(parseFetchQuery({ courseId, classId, userId: other, extra: 'x' }), { ok: true, value: { courseId, classId, userId: other } });
  t.deepEqual(parseFetchQuery({ courseId, classId: '', userId: '' }), { ok: true, value: { courseId, classId: null } });
  t.deepEqual(parseFetchQuery({}), { ok: false, message: 'Invalid course id' });
  t.deepEqual(parseFetchQuery({ courseId: '' }), { ok: false, message: 'Invalid course id' });
  t.deepEqual(parseFetchQuery({ courseId: 'x' }), { ok: false, message: 'Invalid UUID format' });
  t.deepEqual(parseFetchQuery({ courseId, classId: 'x' }), { ok: false, message: 'Invalid UUID format' });
  t.deepEqual(parseFetchQuery({ courseId, userId: 'x' }), { ok: false, message: 'Invalid UUID format' });
  t.deepEqual(parseFetchQuery({ courseId, userId: [other, other] }), { ok: false, message: 'Parameter userId is given more than once' });
});

test('isJsonContentType', (t) => {
  for (const ok of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8']) t.true(isJsonContentType(ok), ok);
  for (const bad of [undefined, '', 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded']) t.false(isJsonContentType(bad), String(bad));
});

test('outcomes as answers, as the commands map them to exit codes', (t) => {
  const learner = { userId: caller, courseId, classId };
  t.deepEqual(fetchAnswer({ status: 'found', learner, content: '{"units":[]}' }), { status: 200, body: '{"units":[]}' });
  t.like(fetchAnswer({ status: 'queued', learner, alreadyQueued: true }), { status: 404, body: { message: 'Rescoped content not found' } });
  t.deepEqual(fetchAnswer({ status: 'forbidden', reason: 'no' }), { status: 403, body: { message: 'no' } });
  t.like(fetchAnswer({ status: 'not-applicable', reason: 'off' }), { status: 400, body: { message: 'Rescope not applicable to specified course/class' }, reason: 'off' });
  t.deepEqual(rescopeAnswer({ status: 'rejected', reason: 'not-found', error: 'gone' }), { status: 404, body: { message: 'gone' } });
  t.deepEqual(rescopeAnswer({ status: 'rejected', reason: 'not-applicable', error: 'archived' }), { status: 400, body: { message: 'archived' } });
  t.deepEqual(rescopeAnswer({ status: 'rejected', reason: 'invalid', error: 'bad' }), { status: 400, body: { message: 'bad' } });
  const result = { queued: 2, duplicates: 1, dropped: 0, requeued: 1, rescopeOff: [], rejected: [] };
  t.deepEqual(rescopeAnswer({ status: 'queued', result }), { status: 200, body: { queued: 2, duplicates: 1, dropped: 0, requeued: 1, rescopeOff: 0 } });
});
