import test from 'ava';
import { parseCheckInvalidMessage } from '../src/notifications/check-invalid-message.js';
import { randomUUID } from 'node:crypto';
import { notificationBuilder, notificationJson, notificationKey, readStoredNotification, storedValue } from '../src/notifications/notification.js';
import { mergesOf } from '../src/notifications/sync-journal.js';

const school = 'aaaaaaaa-0000-4000-8000-000000000001';
const a = 'a0000000-0000-4000-8000-000000000001';
const b = 'b0000000-0000-4000-8000-000000000002';
const created = new Date('2026-03-01T09:30:00.000Z');

test('a notification has its keys in order and both lists as arrays, even empty', (t) => {
  t.is(
    notificationJson(school, created, `["${a}","${b}"]`, null),
    `{"schoolUUID":"${school}","dateTimeCreated":"2026-03-01T09:30:00.000Z","processingErrorPupilUUIDs":["${a}","${b}"],"overdueChecksUUIDs":[]}`,
  );
  const parsed = JSON.parse(notificationJson(school, created, null, `["${a}"]`)!);
  t.deepEqual(parsed, { schoolUUID: school, dateTimeCreated: created.toISOString(), processingErrorPupilUUIDs: [], overdueChecksUUIDs: [a] });
});

test('journal records are grouped by school, each pupil once, in the order first seen', (t) => {
  t.deepEqual(mergesOf([`${school} ${a}`, `${b} ${a}`, `${school} ${b} ${a}`]), [
    { school, pupils: [a, b] },
    { school: b, pupils: [a] },
  ]);
  t.deepEqual(mergesOf([]), []);
});

test('a school with nothing to report gets no notification', (t) => {
  t.is(notificationJson(school, created, null, null), null);
  t.is(notificationJson(school, created, '[]', '[]'), null);
});

test('lists that are not exactly JSON arrays of lower-case UUIDs are refused, never written', (t) => {
  t.is(notificationJson(school, created, `["${a}","x\"}"]`, null), null);
  t.is(notificationJson(school, created, `["${a.toUpperCase()}"]`, null), null);
  t.is(notificationJson(school, created, `["${a}",]`, null), null);
  t.is(notificationJson('not-a-uuid', created, `["${a}"]`, null), null);
});

test("the builder's MTC entry is exactly the plain text wrapped by JSON.stringify, with ids checked or not", (t) => {
  for (let i = 0; i < 200; i++) {
    const list = (n: number) => (n === 0 ? (i % 2 === 0 ? null : '[]') : JSON.stringify(Array.from({ length: n }, () => randomUUID())));
    const [uuid, errors, overdue] = [randomUUID(), list(i % 4), list((i + 1) % 3)];
    const plain = notificationJson(uuid, created, errors, overdue);
    for (const checkIds of [true, false]) {
      t.is(notificationBuilder(created, 'plain', checkIds)(uuid, errors, overdue), plain);
      const mtc = notificationBuilder(created, 'mtc', checkIds)(uuid, errors, overdue);
      t.is(mtc, plain === null ? null : storedValue(plain, 'mtc'));
      if (mtc !== null) t.deepEqual(readStoredNotification(mtc), { format: 'mtc', notification: JSON.parse(plain!) });
    }
  }
});

test('without id checks (a UUID-typed column wrote them) the lists are taken as they are; an empty school still gets nothing', (t) => {
  t.is(notificationBuilder(created, 'plain', false)(school, `["${a.toUpperCase()}"]`, null), `{"schoolUUID":"${school}","dateTimeCreated":"2026-03-01T09:30:00.000Z","processingErrorPupilUUIDs":["${a.toUpperCase()}"],"overdueChecksUUIDs":[]}`);
  t.is(notificationBuilder(created, 'mtc', true)(school, `["${a.toUpperCase()}"]`, null), null);
  t.is(notificationBuilder(created, 'mtc', false)(school, null, '[]'), null);
});

test('keys are the prefix and the school UUID', (t) => {
  t.is(notificationKey('school.home.overdue:', 'abc'), 'school.home.overdue:abc');
});

test('checkInvalid messages: the real shape is accepted, anything else named', (t) => {
  const code = 'CCCCCCCC-0000-4000-8000-000000000001';
  t.deepEqual(parseCheckInvalidMessage({ version: 1, checkCode: code, notificationType: 'checkInvalid' }), { ok: true, checkCode: code.toLowerCase() });
  t.deepEqual(parseCheckInvalidMessage({ version: 1, checkCode: code, notificationType: 'checkInvalid', extra: true }), { ok: true, checkCode: code.toLowerCase() });
  const error = (v: unknown) => {
    const r = parseCheckInvalidMessage(v);
    return r.ok ? 'accepted' : r.error;
  };
  t.regex(error('checkInvalid'), /must be a JSON object/);
  t.is(error({ version: 1, checkCode: code, notificationType: 'checkComplete' }), 'notificationType must be "checkInvalid"; got "checkComplete"');
  t.is(error({ version: 2, checkCode: code, notificationType: 'checkInvalid' }), 'version must be 1; got 2');
  t.is(error({ version: '1', checkCode: code, notificationType: 'checkInvalid' }), 'version must be 1; got "1"');
  t.is(error({ version: 1, checkCode: 'x', notificationType: 'checkInvalid' }), 'checkCode must be a UUID; got "x"');
  t.regex(error({ version: 1, notificationType: 'checkInvalid' }), /checkCode must be a UUID; got nothing \(the field is missing\)/);
});

test('counts are grouped by thousands without locale data', async (t) => {
  const { formatCount } = await import('../src/cli/format.js');
  t.is(formatCount(0), '0');
  t.is(formatCount(999), '999');
  t.is(formatCount(1000), '1,000');
  t.is(formatCount(1234567), '1,234,567');
  t.is(formatCount(-12345.5), '-12,345.5');
});

test('a status table right-aligns the counts, and a note after one count does not push the others', async (t) => {
  const { table } = await import('../src/cli/format.js');
  t.is(
    table([
      ['queued', '5  (oldest due waited 3s)'],
      ['dispatched', '1,200'],
      ['bus', '0 ids'],
    ]),
    ['  queued          5  (oldest due waited 3s)', '  dispatched  1,200', '  bus             0 ids'].join('\n'),
  );
});
