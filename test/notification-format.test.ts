/**
 * The stored format of notifications: MTC's cache envelope (the default) or the bare
 * object, written by both jobs, merged across formats by notify-invalid, byte for byte,
 * and read back exactly as MTC's cache services read them.
 */
import { randomUUID } from 'node:crypto';
import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { type NotificationFormat, notificationJson, storedValue } from '../src/notifications/notification.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { createLogger } from '../src/log/logger.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { runCli } from './helpers/cli.js';
import { eachTarget } from './helpers/databases.js';
import { type NotificationFixture, notificationFixture, readLikeMtc } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

const now = new Date('2026-03-02T10:00:00.000Z');
const later = new Date('2026-03-02T10:05:00.000Z');

/** The exact stored text of a notification, built independently of the jobs. */
function expectedEntry(format: NotificationFormat, school: string, created: Date, errors: string[], overdue: string[]): string {
  const list = (ids: string[]) => `[${ids.map((id) => `"${id}"`).join(',')}]`;
  const json = `{"schoolUUID":"${school}","dateTimeCreated":"${created.toISOString()}","processingErrorPupilUUIDs":${list(errors)},"overdueChecksUUIDs":${list(overdue)}}`;
  return format === 'plain' ? json : JSON.stringify({ meta: { type: 'object' }, value: json });
}

function notify(f: NotificationFixture, codes: string[], format: NotificationFormat = 'mtc', at = later, log = createLogger({ format: 'json', level: 'error' })) {
  return notifyInvalid(f.db, f.redis.client, codes.map((checkCode, i) => ({ line: i + 1, checkCode })), { ...f.options, notificationFormat: format, now: at, log });
}

eachTarget('mtc format: overdue-sync, notify-invalid, overdue-sync; every entry is exactly what MTC reads, empty lists stay []', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const overdue = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const failing = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);

  await overdueSync(f.db, f.redis.client, { ...f.options, now });
  t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, now, [], [overdue.checkCode]));
  await notify(f, [failing.checkCode]);
  t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, now, [failing.urlSlug], [overdue.checkCode]));
  await overdueSync(f.db, f.redis.client, { ...f.options, now: later });
  t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, later, [failing.urlSlug], [overdue.checkCode]));
  t.deepEqual(readLikeMtc((await f.raw(school.urlSlug))!), {
    schoolUUID: school.urlSlug,
    dateTimeCreated: later.toISOString(),
    processingErrorPupilUUIDs: [failing.urlSlug],
    overdueChecksUUIDs: [overdue.checkCode],
  });

  // A new entry made by notify-invalid alone: its empty list of overdue checks is [].
  const other = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, other.id, {}, now);
  await notify(f, [pupil.checkCode]);
  t.is(await f.raw(other.urlSlug), expectedEntry('mtc', other.urlSlug, later, [pupil.urlSlug], []));
  t.deepEqual((await f.read(other.urlSlug))?.overdueChecksUUIDs, []);
});

eachTarget('notify-invalid merges a plain entry into the mtc format and an mtc entry into plain, keeping what was there', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const overdue = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const [a, b] = [await seedPupil(f.db, school.id, {}, now), await seedPupil(f.db, school.id, {}, now)];

  await overdueSync(f.db, f.redis.client, { ...f.options, notificationFormat: 'plain', now });
  const plain = (await f.raw(school.urlSlug))!;
  t.is(plain, expectedEntry('plain', school.urlSlug, now, [], [overdue.checkCode]));
  t.throws(() => readLikeMtc(plain), { instanceOf: TypeError }, 'MTC cannot read a bare object');

  await notify(f, [a.checkCode], 'mtc');
  t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, now, [a.urlSlug], [overdue.checkCode]));
  await notify(f, [b.checkCode], 'plain');
  t.is(await f.raw(school.urlSlug), expectedEntry('plain', school.urlSlug, now, [a.urlSlug, b.urlSlug].sort(), [overdue.checkCode]));
});

eachTarget('two notify-invalid runs at once on one school, mtc format: every pupil kept', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupils: Array<Awaited<ReturnType<typeof seedPupil>>> = [];
  for (let i = 0; i < 20; i++) pupils.push(await seedPupil(f.db, school.id, {}, now));
  const [first, second] = [f.redis.newClient(), f.redis.newClient()];
  const run = (client: typeof first, part: typeof pupils) =>
    notifyInvalid(f.db, client, part.map((p, i) => ({ line: i + 1, checkCode: p.checkCode })), { ...f.options, now });
  // Each pupil alone, alternating between the two connections, all in flight at once.
  await Promise.all(pupils.map((p, i) => run(i % 2 === 0 ? first : second, [p])));
  t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, now, pupils.map((p) => p.urlSlug).sort(), []));
});

eachTarget('a list of 5,000 pupils survives the merge byte for byte', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, {}, now);
  const many = Array.from({ length: 5_000 }, () => randomUUID()).sort();
  const overdue = Array.from({ length: 3 }, () => randomUUID()).sort();
  for (const format of ['mtc', 'plain'] as const) {
    const before = storedValue(notificationJson(school.urlSlug, now, JSON.stringify(many), JSON.stringify(overdue))!, format);
    t.is(before, expectedEntry(format, school.urlSlug, now, many, overdue));
    await f.redis.client.set(f.key(school.urlSlug), before);
    await notify(f, [pupil.checkCode], format);
    const merged = expectedEntry(format, school.urlSlug, now, [...many, pupil.urlSlug].sort(), overdue);
    t.is(await f.raw(school.urlSlug), merged, `${format}: the new pupil in its place, the rest as it was`);
    // A replay of the same message: not one byte changes.
    await notify(f, [pupil.checkCode], format, new Date(later.getTime() + 60_000));
    t.is(await f.raw(school.urlSlug), merged, `${format}: a replay`);
    t.false(merged.includes('\\/'), 'no escaped slashes');
  }
});

eachTarget('a foreign value under the prefix is replaced with a warning naming its key; keys outside the prefix are never touched', async (t, target) => {
  const f = await notificationFixture(t, target);
  const foreign: Array<[string | null, string]> = [
    ['"hello"', 'JSON that is not'],
    ['{"meta":{"type":"string"},"value":"x"}', 'an MTC cache entry of type string'],
    ['{"meta":{"type":"object"},"value":"not json"}', 'an MTC cache entry that is not'],
    ['not json at all', 'text that is not JSON'],
    ['{"schoolUUID":"x","dateTimeCreated":"y","processingErrorPupilUUIDs":{"a":1},"overdueChecksUUIDs":[]}', 'JSON that is not'],
    ['{}', 'JSON that is not'],
    [expectedEntry('plain', randomUUID(), now, [randomUUID()], []), 'JSON that is not a well-formed notification of this school'],
    [null, 'a Redis list'],
  ];
  const cases = [];
  for (const [value, found] of foreign) {
    const school = await seedSchool(f.db);
    const pupil = await seedPupil(f.db, school.id, {}, now);
    if (value === null) await f.redis.client.rpush(f.key(school.urlSlug), 'a', 'b');
    else await f.redis.client.set(f.key(school.urlSlug), value);
    cases.push({ school, pupil, found });
  }
  // Same school ids, outside the prefix, and a key that only starts like it.
  const outside = cases.map(({ school }) => `${f.redis.prefix}elsewhere:${school.urlSlug}`);
  for (const key of outside) await f.redis.client.set(key, 'hello');
  const lookalike = `${f.options.notificationPrefix.slice(0, -1)}${cases[0]!.school.urlSlug}`;
  await f.redis.client.set(lookalike, '"hello"');

  const logged: string[] = [];
  const log = createLogger({ format: 'json', level: 'warn', stream: { write: (line: string) => logged.push(line) > 0 } as never });
  const result = await notify(f, cases.map((c) => c.pupil.checkCode), 'mtc', later, log);
  t.like(result, { handled: cases.length, schools: cases.length });
  const warnings = logged.map((line) => JSON.parse(line) as { level: string; msg: string; key: string });
  t.is(warnings.length, cases.length);
  for (const { school, pupil, found } of cases) {
    t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, later, [pupil.urlSlug], []), found);
    const warning = warnings.find((w) => w.key === f.key(school.urlSlug));
    t.is(warning?.level, 'warn');
    t.true(warning?.msg.startsWith(`replaced ${found}`), `${warning?.msg} (${found})`);
  }
  for (const key of outside) t.is(await f.redis.client.get(key), 'hello', key);
  t.is(await f.redis.client.get(lookalike), '"hello"');

  // The command says it on stderr.
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, {}, now);
  await f.redis.client.set(f.key(school.urlSlug), '"hello"');
  const r = await runCli(['notify-invalid', '--check-code', pupil.checkCode], { env: f.env });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`"level":"warn","msg":"replaced JSON that is not a well-formed notification of this school \\(school, lists of UUIDs, creation time\\) under ${f.key(school.urlSlug)} with a fresh notification"`));
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug]);
});

eachTarget('the format is a setting: --notification-format plain writes bare objects; a bad value exits 2 naming the setting', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const overdue = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const plain = await runCli(['overdue-sync', '--notification-format', 'plain'], { env: f.env });
  t.is(plain.code, 0, plain.stderr);
  t.deepEqual(JSON.parse((await f.raw(school.urlSlug))!).overdueChecksUUIDs, [overdue.checkCode]);
  t.is(JSON.parse((await f.raw(school.urlSlug))!).meta, undefined);

  const byDefault = await runCli(['overdue-sync', '--dry-run'], { env: f.env });
  t.regex(byDefault.stdout, new RegExp(`^SET ${f.key(school.urlSlug)} \\{"meta":\\{"type":"object"\\},"value":"\\{\\\\"schoolUUID\\\\"`, 'm'));

  for (const [args, env, named] of [
    [['--notification-format', 'xml'], {}, '--notification-format'],
    [[], { MTC_BATCH_NOTIFICATION_FORMAT: 'MTC' }, 'MTC_BATCH_NOTIFICATION_FORMAT'],
  ] as const) {
    for (const command of ['overdue-sync', 'notify-invalid']) {
      const bad = await runCli([command, ...args, ...(command === 'notify-invalid' ? ['--check-code', overdue.checkCode] : [])], { env: { ...f.env, ...env } });
      t.is(bad.code, 2, `${command} ${bad.stderr}`);
      t.true(bad.stderr.includes(named) && bad.stderr.includes('mtc, plain'), bad.stderr);
    }
  }
});

eachTarget('an entry of this school whose dateTimeCreated is not a real ISO UTC time is replaced by a fresh entry, with a warning naming its key', async (t, target) => {
  const f = await notificationFixture(t, target);
  /** This school's entry as overdue-sync writes it, but for its creation time. */
  const entry = (format: NotificationFormat, school: string, created: string, errors: string[], overdue: string[]) => {
    const json = JSON.stringify({ schoolUUID: school, dateTimeCreated: created, processingErrorPupilUUIDs: errors, overdueChecksUUIDs: overdue });
    return format === 'plain' ? json : JSON.stringify({ meta: { type: 'object' }, value: json });
  };
  const bad = [
    'garbage',
    '2026-13-45T99:99:99.000Z',
    '2026-00-10T10:00:00.000Z',
    '2026-03-00T10:00:00.000Z',
    '2026-03-32T10:00:00.000Z',
    '2026-04-31T10:00:00.000Z',
    '2026-02-29T10:00:00.000Z',
    '2026-03-02T24:00:00.000Z',
    '2026-03-02T10:60:00.000Z',
    '2026-03-02T10:00:60.000Z',
    '2026-03-02T10:00:00Z',
    '2026-03-02T10:00:00.0000Z',
    '2026-03-02T10:00:00.000+01:00',
    '2026-03-02t10:00:00.000z',
    '2026-03-02 10:00:00.000Z',
    '+02026-03-02T10:00:00.000Z',
    '2026-3-2T10:00:00.000Z',
    '2026-03-02T10:00:00.000Z ',
    '',
  ];
  const good = ['2026-03-02T10:00:00.000Z', '2024-02-29T23:59:59.999Z', '2000-02-29T00:00:00.000Z', '2026-12-31T00:59:00.000Z', '2026-04-30T12:00:00.000Z'];
  const cases = [];
  for (const format of ['mtc', 'plain'] as const) {
    for (const created of [...bad, ...good]) {
      const school = await seedSchool(f.db);
      const pupil = await seedPupil(f.db, school.id, {}, now);
      const [kept, overdue] = [randomUUID(), randomUUID()];
      await f.redis.client.set(f.key(school.urlSlug), entry(format, school.urlSlug, created, [kept], [overdue]));
      cases.push({ format, created, valid: good.includes(created), school, pupil, kept, overdue });
    }
  }

  const logged: string[] = [];
  const log = createLogger({ format: 'json', level: 'warn', stream: { write: (line: string) => logged.push(line) > 0 } as never });
  const result = await notify(f, cases.map((c) => c.pupil.checkCode), 'mtc', later, log);
  t.like(result, { handled: cases.length, schools: cases.length });
  const warnings = logged.map((line) => JSON.parse(line) as { level: string; msg: string; key: string });
  t.is(warnings.length, 2 * bad.length);
  for (const { format, created, valid, school, pupil, kept, overdue } of cases) {
    const warning = warnings.find((w) => w.key === f.key(school.urlSlug));
    if (valid) {
      t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, new Date(created), [kept, pupil.urlSlug].sort(), [overdue]), `${format} ${created}: kept`);
      t.is(warning, undefined);
    } else {
      // As for a malformed list: nothing of the entry is kept, and the key is named.
      t.is(await f.raw(school.urlSlug), expectedEntry('mtc', school.urlSlug, later, [pupil.urlSlug], []), `${format} ${JSON.stringify(created)}: replaced`);
      t.is(warning?.level, 'warn');
      const found = `${format === 'mtc' ? 'an MTC cache entry' : 'JSON'} that is not a well-formed notification of this school (school, lists of UUIDs, creation time)`;
      t.is(warning?.msg, `replaced ${found} under ${f.key(school.urlSlug)} with a fresh notification`);
    }
  }
});
