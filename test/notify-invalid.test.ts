import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { toBool } from '../src/db/values.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { eachTarget } from './helpers/databases.js';
import { notificationFixture } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

const now = new Date('2026-03-02T10:00:00.000Z');
const message = (checkCode: string) => JSON.stringify({ version: 1, checkCode, notificationType: 'checkInvalid' });

eachTarget('a checkInvalid message marks the check failed and adds the pupil, creating the entry', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 20 } }, now);
  const result = await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now });
  t.like(result, { handled: 1, schools: 1, pupils: 1, notCurrent: 0, rejected: [] });
  t.deepEqual(await f.read(school.urlSlug), {
    schoolUUID: school.urlSlug,
    dateTimeCreated: now.toISOString(),
    processingErrorPupilUUIDs: [pupil.urlSlug],
    overdueChecksUUIDs: [],
  });
  const ttl = await f.redis.client.ttl(`${f.options.notificationPrefix}${school.urlSlug}`);
  t.true(ttl > 3890 && ttl <= 3900);
  const check = await f.db.knex('check').first('processingFailed').where({ checkCode: pupil.checkCode });
  t.true(toBool(check?.processingFailed));
  // overdue-sync agrees: same entry, and it knows to remove it later.
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 1, processingErrors: 1, removed: 0 });
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug]);
});

eachTarget('adding to an existing entry keeps its overdue checks and creation time; a replay changes nothing', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const overdue = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const a = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
  const b = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
  await overdueSync(f.db, f.redis.client, { ...f.options, now });
  const later = new Date(now.getTime() + 60_000);
  await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: a.checkCode }, { line: 2, checkCode: b.checkCode }, { line: 3, checkCode: a.checkCode }], { ...f.options, now: later });
  const entry = await f.read(school.urlSlug);
  t.deepEqual(entry, { schoolUUID: school.urlSlug, dateTimeCreated: now.toISOString(), processingErrorPupilUUIDs: [a.urlSlug, b.urlSlug].sort(), overdueChecksUUIDs: [overdue.checkCode] });
  const before = await f.redis.client.get(`${f.options.notificationPrefix}${school.urlSlug}`);
  await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: b.checkCode }], { ...f.options, now: new Date(now.getTime() + 120_000) });
  t.is(await f.redis.client.get(`${f.options.notificationPrefix}${school.urlSlug}`), before);
});

eachTarget('unknown codes are rejected with their line; a restarted or excused pupil is marked but not notified', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const restarted = await seedPupil(f.db, school.id, { restartedFrom: { loggedInMinutesAgo: 5 }, check: {} }, now);
  const excused = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 }, attendance: true }, now);
  const result = await notifyInvalid(
    f.db,
    f.redis.client,
    [
      { line: 1, checkCode: restarted.previousCheckCode! },
      { line: 2, checkCode: '99999999-9999-4999-8999-999999999999' },
      { line: 3, checkCode: excused.checkCode },
    ],
    { ...f.options, now },
  );
  t.deepEqual(result, { handled: 2, schools: 0, pupils: 0, notCurrent: 2, rejected: [{ line: 2, error: 'unknown check code 99999999-9999-4999-8999-999999999999' }] });
  t.is(await f.read(school.urlSlug), null);
  const marked = await f.db.knex('check').select('processingFailed').whereIn('checkCode', [restarted.previousCheckCode!, excused.checkCode]);
  t.true(marked.every((r) => toBool(r.processingFailed)));
});

eachTarget('concurrent runs never lose each other\'s pupils', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupils: Array<Awaited<ReturnType<typeof seedPupil>>> = [];
  for (let i = 0; i < 40; i++) pupils.push(await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now));
  // Eight handlers on their own connections, each with five pupils of the same school.
  const clients = Array.from({ length: 8 }, () => f.redis.newClient());
  await Promise.all(
    clients.map((client, i) =>
      notifyInvalid(f.db, client, pupils.slice(i * 5, i * 5 + 5).map((p, j) => ({ line: j + 1, checkCode: p.checkCode })), { ...f.options, now }),
    ),
  );
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, pupils.map((p) => p.urlSlug).sort());
});

eachTarget('notify-invalid on the command line: bad lines by number, exit 6; two processes at once', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const [a, b, c] = [await seedPupil(f.db, school.id, {}, now), await seedPupil(f.db, school.id, {}, now), await seedPupil(f.db, school.id, {}, now)];
  const lines = [message(a.checkCode), 'not json', JSON.stringify({ version: 2, checkCode: b.checkCode, notificationType: 'checkInvalid' }), '', message('11111111-1111-4111-8111-111111111111'), message(b.checkCode)];
  const r = await runCli(['notify-invalid', '--jsonl', '-', '--json'], { env: f.env, stdin: lines.join('\n') });
  t.is(r.code, 6, r.stderr);
  const out = r.json<{ handled: number; schools: number; rejected: Array<{ line: number; error: string }> }>();
  t.like(out, { handled: 2, schools: 1 });
  t.deepEqual(out.rejected.map((x) => x.line), [2, 3, 5]);
  t.regex(out.rejected[1]!.error, /version must be 1; got 2/);
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [a.urlSlug, b.urlSlug].sort());

  // An operator's bad id is a usage error, and nothing is done (not even the good id).
  const typo = await runCli(['notify-invalid', '--check-code', c.checkCode, 'nope', '--json'], { env: f.env });
  t.is(typo.code, 2);
  t.like(typo.json(), { error: { code: 'usage', message: '--check-code must be a UUID; got "nope"' } });
  t.false(toBool((await f.db.knex('check').first('processingFailed').where({ checkCode: c.checkCode }))?.processingFailed));
  // A flag where a value belongs is not taken as a check code.
  const swallowed = await runCli(['notify-invalid', '--check-code', '--config', 'x.json'], { env: f.env });
  t.is(swallowed.code, 2);
  t.regex(swallowed.stderr, /--check-code needs a value, but the next argument is the flag --config/);
  const ops = await runCli(['notify-invalid', '--check-code', c.checkCode, '--json'], { env: f.env });
  t.is(ops.code, 0, ops.stderr);
  t.like(ops.json(), { handled: 1, rejected: [] });
  t.is((await runCli(['notify-invalid'], { env: f.env })).code, 2);

  const others: Array<Awaited<ReturnType<typeof seedPupil>>> = [];
  for (let i = 0; i < 30; i++) others.push(await seedPupil(f.db, school.id, {}, now));
  const runs = await Promise.all([
    spawnCli(['notify-invalid', '--jsonl', '-', '--json'], { env: f.env, stdin: others.slice(0, 15).map((p) => message(p.checkCode)).join('\n') }),
    spawnCli(['notify-invalid', '--jsonl', '-', '--json'], { env: f.env, stdin: others.slice(15).map((p) => message(p.checkCode)).join('\n') }),
  ]);
  for (const run of runs) t.is(run.code, 0, run.stderr);
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [a, b, c, ...others].map((p) => p.urlSlug).sort());
});

eachTarget('overdue-sync on the command line prints the documented JSON', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 30 } });
  const lenient = await runCli(['overdue-sync', '--overdue-minutes', '10', '--ttl-seconds', '600', '--json'], { env: f.env });
  t.is(lenient.code, 0, lenient.stderr);
  const out = lenient.json<{ timings: { sqlMs: number; redisMs: number } }>();
  t.like(out, { schools: 1, overdueChecks: 1, processingErrors: 0, removed: 0 });
  t.true(Number.isInteger(out.timings.sqlMs) && Number.isInteger(out.timings.redisMs));
  t.true((await f.redis.client.ttl(`${f.options.notificationPrefix}${school.urlSlug}`)) <= 600);
  const strict = await runCli(['overdue-sync', '--json'], { env: f.env });
  t.like(strict.json(), { schools: 0, removed: 1 });
  const dry = await runCli(['overdue-sync', '--overdue-minutes', '10', '--dry-run'], { env: f.env });
  t.regex(dry.stdout, new RegExp(`^SET ${f.options.notificationPrefix}${school.urlSlug} .* EX 3900$`, 'm'));
  t.regex(dry.stdout, /dry run: would write 1 school notification and remove 0 entries; nothing written/);
  t.is(await f.read(school.urlSlug), null);
  const bad = await runCli(['overdue-sync', '--overdue-minutes', '0'], { env: f.env });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--overdue-minutes must be a whole number from 1/);
});

eachTarget('notify-invalid --json counts schools and pupils once over the whole run, across its batches of 1,000 lines', async (t, target) => {
  const f = await notificationFixture(t, target);
  const [x, y] = [await seedSchool(f.db), await seedSchool(f.db)];
  const [a, b, excused] = [await seedPupil(f.db, x.id, {}, now), await seedPupil(f.db, x.id, {}, now), await seedPupil(f.db, x.id, { attendance: true }, now)];
  const c = await seedPupil(f.db, y.id, {}, now);

  // The operator's case: 2,500 lines (three batches) that all concern one school.
  const one = await runCli(['notify-invalid', '--jsonl', '-', '--json'], { env: f.env, stdin: Array.from({ length: 2_500 }, () => message(a.checkCode)).join('\n') });
  t.is(one.code, 0, one.stderr);
  t.deepEqual(one.json(), { handled: 2_500, schools: 1, pupils: 1, notCurrent: 0, rejected: [] });
  t.regex(one.stdout, /"schools":1,/);

  // Batch 1: a and the excused pupil; batch 2: b; batch 3: c, then a again. Messages are
  // counted each (handled, notCurrent, rejected by line), schools and pupils once each:
  // neither the sum over batches (4 schools, 5 pupils) nor the largest batch (2, 2).
  const codes = [
    ...Array.from({ length: 1_000 }, (_, i) => (i % 2 === 0 ? a.checkCode : excused.checkCode)),
    ...Array.from({ length: 1_000 }, () => b.checkCode),
    ...Array.from({ length: 250 }, () => c.checkCode),
    ...Array.from({ length: 250 }, () => a.checkCode),
  ];
  const lines = codes.map(message);
  lines[1_500] = message('22222222-2222-4222-8222-222222222222');
  const mixed = await runCli(['notify-invalid', '--jsonl', '-', '--json'], { env: f.env, stdin: lines.join('\n') });
  t.is(mixed.code, 6, mixed.stderr);
  t.deepEqual(mixed.json(), {
    handled: 2_499,
    schools: 2,
    pupils: 3,
    notCurrent: 500,
    rejected: [{ line: 1_501, error: 'unknown check code 22222222-2222-4222-8222-222222222222' }],
  });
  t.deepEqual((await f.read(x.urlSlug))?.processingErrorPupilUUIDs, [a.urlSlug, b.urlSlug].sort());
  t.deepEqual((await f.read(y.urlSlug))?.processingErrorPupilUUIDs, [c.urlSlug]);

  // The human summary uses the same counts.
  const human = await runCli(['notify-invalid', '--jsonl', '-'], { env: f.env, stdin: codes.slice(0, 2_200).map(message).join('\n') });
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /handled 2,?200 messages: 3 pupils in 2 school notifications; 500 no longer current/);
});

eachTarget('an index or journal key of another type is refused before anything is written to Redis, naming the key; on the command line exit 2', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 20 } }, now);
  const index = f.options.notificationIndexKey;
  const cases = [
    { key: index, type: 'string', expected: 'set', write: () => f.redis.client.set(index, 'another program') },
    { key: `${index}:journal`, type: 'hash', expected: 'list', write: () => f.redis.client.hset(`${index}:journal`, 'owner', 'another program') },
  ];
  for (const c of cases) {
    for (const key of await f.redis.keys()) await f.redis.client.del(key);
    await c.write();
    const err = await t.throwsAsync(notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now }));
    t.is(err?.message, `WRONGTYPE the key ${c.key} holds a ${c.type}, not a ${c.expected}`);
    t.deepEqual(await f.redis.keys(), [c.key], `${c.key}: no entry and no index written, the key left as it was`);
    t.is(await f.redis.client.type(c.key), c.type);

    const r = await spawnCli(['notify-invalid', '--check-code', pupil.checkCode, '--json'], { env: f.env });
    t.is(r.code, 2, r.stderr);
    t.true(r.stdout.includes(`the key ${c.key} holds a ${c.type}, not a ${c.expected}`), r.stdout);
    // The one setting behind the key, not every key setting there is.
    t.true(r.stdout.includes("give mtc-batch a key of its own (MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey)"), r.stdout);
    t.false(r.stdout.includes('MTC_BATCH_BUS_KEY'), r.stdout);
    t.deepEqual(await f.redis.keys(), [c.key]);
  }
});

eachTarget("a lock no run wrote (another type, or a value without a lifetime) is refused before anything is written to Redis, in overdue-sync's words; on the command line exit 2", async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 20 } }, now);
  const lock = `${f.options.notificationIndexKey}:lock`;
  const client = f.redis.client;
  // Journaled for such a lock, merges would wait for a run that never comes (overdue-sync
  // refuses it): its script took one without a lifetime for a held lock, and kept the journal.
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['a hash without a lifetime', () => client.hset(lock, 'owner', 'another program')],
    ['a hash with a lifetime', () => client.multi().hset(lock, 'owner', 'another program').pexpire(lock, 60_000).exec()],
    ['a string without a lifetime', () => client.set(lock, 'another program')],
    ['a string living longer than any run gives its lock', () => client.set(lock, 'another program', 'PX', 90_000_000)],
  ];
  for (const [what, write] of cases) {
    for (const key of await f.redis.keys()) await client.del(key);
    await write();
    const before = await client.pttl(lock);
    const err = await t.throwsAsync(notifyInvalid(f.db, client, [{ line: 1, checkCode: pupil.checkCode }], { ...f.options, now }));
    t.is((err as { exitCode?: number }).exitCode, 2, what);
    t.true(err?.message.startsWith(`the key ${lock} holds a `), `${what}: ${err?.message}`);
    t.regex(err?.message ?? '', /(which overdue-sync never writes|longer than any run gives its lock).*delete that key if nothing else uses it, or give mtc-batch its own MTC_BATCH_NOTIFICATION_INDEX_KEY$/, what);
    // overdue-sync refuses the same key in the same words.
    const run = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now }));
    t.is(err?.message, run?.message, what);
    t.deepEqual(await f.redis.keys(), [lock], `${what}: no entry, index or journal written, the key left as it was`);
    t.is(await client.type(lock), what.split(' ')[1]!, what);
    const after = await client.pttl(lock);
    t.true(before === -1 ? after === -1 : after > 0 && after <= before, `${what}: its lifetime untouched (${before} ms, then ${after} ms)`);

    const r = await spawnCli(['notify-invalid', '--check-code', pupil.checkCode, '--json'], { env: f.env });
    t.is(r.code, 2, `${what}: ${r.stdout}${r.stderr}`);
    t.true(r.stdout.includes(err!.message), r.stdout);
    t.deepEqual(await f.redis.keys(), [lock], what);
  }
});
