import type { Database } from '../src/db/database.js';
import { toNumber, toUuid } from '../src/db/values.js';
import { runCli } from './helpers/cli.js';
import { eachDialect, migratedDatabase } from './helpers/databases.js';

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const [classA, classB, courseA, courseB] = [uuid(901), uuid(902), uuid(903), uuid(904)];

interface Row {
  id: number;
  userId: string;
  status: string | null;
  attempts: number;
  availableAt: number;
}

/** Failed rows in two classes and courses with three causes, and one row in every other state, all in class A. */
async function seed(db: Database): Promise<Record<string, number>> {
  const hourAgo = Date.now() - 3_600_000;
  const rows = [
    ['dupA1', 'failed', classA, courseA, `storing content failed: duplicate key (user_id)=(${uuid(1)})`, 1],
    ['dupA2', 'failed', classA, courseA, `storing content failed: duplicate key (user_id)=(${uuid(2)})`, 2],
    ['leaseB', 'failed', classB, courseB, 'lease of 600 s expired while processing (the worker crashed or was killed)', 3],
    ['timeoutB', 'failed', classB, courseA, 'computing content failed: Connection TIMEOUT after 30000 ms', 4],
    ['queued', null, classA, courseA, 'computing content failed: Connection timeout after 30000 ms', 5],
    ['dispatched', 'dispatched', classA, courseA, null, 6],
    ['processing', 'processing', classA, courseA, 'lease of 600 s expired while processing (the worker crashed or was killed)', 7],
  ] as const;
  const ids: Record<string, number> = {};
  for (const [name, status, classId, courseId, error, n] of rows) {
    const [row] = await db.knex('rescope_queue')
      .insert({
        user_id: uuid(n), course_id: courseId, class_id: classId, source: 'rescope', priority: 4, status,
        attempts: status === 'failed' ? 5 : 1, last_error: error,
        available_at: new Date(hourAgo), created_at: new Date(hourAgo), updated_at: new Date(hourAgo + n * 60_000),
      })
      .returning('id');
    ids[name] = toNumber((row as { id: unknown }).id);
  }
  return ids;
}

async function rows(db: Database): Promise<Map<number, Row>> {
  const all: Array<Record<string, unknown>> = await db.knex('rescope_queue').select('id', 'user_id', 'status', 'attempts', 'available_at');
  return new Map(all.map((r) => [toNumber(r.id), {
    id: toNumber(r.id), userId: toUuid(r.user_id), status: r.status === null ? null : String(r.status), attempts: toNumber(r.attempts),
    availableAt: r.available_at instanceof Date ? r.available_at.getTime() : toNumber(r.available_at),
  }]));
}

eachDialect('failed lists the failed rows newest first, after how many share each cause', async (t, dialect) => {
  const { db, tdb } = await migratedDatabase(t, dialect);
  const ids = await seed(db);
  const r = await runCli(['failed', '--json'], { env: tdb.env });
  t.is(r.code, 0, r.stderr);
  const out = r.json<{ total: number; byError: unknown[]; rows: Array<{ id: number; userId: string; classId: string; attempts: number; lastError: string; failedAt: string }> }>();
  t.is(out.total, 4);
  t.deepEqual(out.byError, [
    { error: 'storing content failed: duplicate key (user_id)=(<id>)', rows: 2 },
    { error: 'computing content failed: Connection TIMEOUT after <n> ms', rows: 1 },
    { error: 'lease of <n> s expired while processing (the worker crashed or was killed)', rows: 1 },
  ]);
  t.deepEqual(out.rows.map((x) => x.id), [ids.timeoutB, ids.leaseB, ids.dupA2, ids.dupA1]);
  t.like(out.rows[0], { userId: uuid(4), classId: classB, attempts: 5, lastError: 'computing content failed: Connection TIMEOUT after 30000 ms' });
  t.true(Math.abs(Date.parse(out.rows[0]!.failedAt) - (Date.now() - 3_600_000 + 4 * 60_000)) < 5_000);

  const narrowed = await runCli(['failed', '--class', classA, '--limit', '1', '--json'], { env: tdb.env });
  t.like(narrowed.json(), { total: 2, byError: [{ error: 'storing content failed: duplicate key (user_id)=(<id>)', rows: 2 }] });
  t.deepEqual(narrowed.json<{ rows: Array<{ id: number }> }>().rows.map((x) => x.id), [ids.dupA2]);
  t.like((await runCli(['failed', '--course', courseA, '--class', classB, '--json'], { env: tdb.env })).json(), { total: 1 });

  const human = await runCli(['failed', '--limit', '2'], { env: { ...tdb.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^4 failed rows \(newest 2 listed\)\nby error:\n {2}2 {2}storing content failed: duplicate key \(user_id\)=\(<id>\)\n/);
  t.regex(human.stdout, new RegExp(`#${ids.timeoutB} +\\S+ +learner ${uuid(4)} +course ${courseA} +class ${classB} +5 attempts\\n +computing content failed`));
  t.is((await runCli(['failed', '--limit', '0'], { env: tdb.env })).code, 2);
});

const selections: Array<[string, string[], string[]]> = [
  ['--id', ['--id', 'ID:dupA1', 'ID:leaseB', 'ID:queued', 'ID:dispatched'], ['dupA1', 'leaseB']],
  ['--class', ['--class', classA], ['dupA1', 'dupA2']],
  ['--course', ['--course', courseA], ['dupA1', 'dupA2', 'timeoutB']],
  ['--error-contains (ignoring case)', ['--error-contains', 'connection timeout'], ['timeoutB']],
  ['--error-contains with --class', ['--error-contains', 'lease of', '--class', classB], ['leaseB']],
  ['--all', ['--all'], ['dupA1', 'dupA2', 'leaseB', 'timeoutB']],
];

for (const [title, args, selected] of selections) {
  eachDialect(`retry-failed and discard-failed ${title} change the selected failed rows only, never queued or in-flight ones`, async (t, dialect) => {
    const { db, tdb } = await migratedDatabase(t, dialect);
    const ids = await seed(db);
    const argv = args.map((a) => (a.startsWith('ID:') ? String(ids[a.slice(3)]) : a));
    const before = await rows(db);
    const want = new Set(selected.map((name) => ids[name]!));

    const dry = await runCli(['retry-failed', ...argv, '--dry-run', '--json'], { env: tdb.env });
    t.is(dry.code, 0, dry.stderr);
    t.deepEqual(dry.json(), { retried: want.size });
    t.deepEqual(await rows(db), before, 'a dry run changes nothing');

    const retried = await runCli(['retry-failed', ...argv, '--json'], { env: tdb.env });
    t.deepEqual(retried.json(), { retried: want.size });
    const after = await rows(db);
    for (const [id, row] of after) {
      if (want.has(id)) {
        t.like(row, { status: null, attempts: 0 }, `row ${id} is queued again`);
        t.true(row.availableAt > Date.now() - 60_000, `row ${id} is due now`);
      } else {
        t.deepEqual(row, before.get(id), `row ${id} is left alone`);
      }
    }

    // Fail them again, then discard the same selection.
    await db.knex('rescope_queue').whereIn('id', [...want]).update({ status: 'failed', attempts: 5 });
    const failedBefore = await rows(db);
    t.deepEqual((await runCli(['discard-failed', ...argv, '--dry-run', '--json'], { env: tdb.env })).json(), { discarded: want.size });
    t.deepEqual(await rows(db), failedBefore);
    const discarded = await runCli(['discard-failed', ...argv, '--json'], { env: tdb.env });
    t.deepEqual(discarded.json(), { discarded: want.size });
    const left = await rows(db);
    t.deepEqual([...left.keys()].sort((a, b) => a - b), [...failedBefore.keys()].filter((id) => !want.has(id)).sort((a, b) => a - b));
    for (const [id, row] of left) t.deepEqual(row, failedBefore.get(id));
  });
}

eachDialect('retry-failed and discard-failed need a selector, and say which', async (t, dialect) => {
  const { db, tdb } = await migratedDatabase(t, dialect);
  await seed(db);
  const before = await rows(db);
  const env = { ...tdb.env, MTC_BATCH_LOG_FORMAT: 'human' };
  for (const command of ['retry-failed', 'discard-failed']) {
    const none = await runCli([command], { env });
    t.is(none.code, 2);
    t.regex(none.stderr, /say which failed rows: --id <n>\.\.\., --class <uuid>, --course <uuid>, --error-contains <text>, or --all/);
    const both = await runCli([command, '--all', '--class', classA], { env });
    t.is(both.code, 2);
    t.regex(both.stderr, /--all selects every failed row: give it alone/);
    t.regex((await runCli([command, '--id', '7', 'x'], { env })).stderr, /--id must be a queue row id \(a positive whole number\); got "x"/);
    const huge = await runCli([command, '--id', '99999999999999999999'], { env });
    t.is(huge.code, 2);
    t.regex(huge.stderr, /--id must be a queue row id, at most 9007199254740991; got "99999999999999999999"/);
    t.regex((await runCli([command, '--class', 'abc'], { env })).stderr, /--class must be a UUID; got "abc"/);
    t.is((await runCli([command, '--error-contains', ''], { env })).code, 2);
    const human = await runCli([command, '--id', '999999', '--dry-run'], { env });
    t.is(human.code, 0, human.stderr);
    t.regex(human.stdout, /^would (retry|discard) 0 rows \(failed rows with id #999999\); dry run: nothing changed\n1 given id matched no failed row/);
    // The same id twice is one row, said once.
    const twice = await runCli([command, '--id', '999999', '--id', '999999', '--dry-run'], { env });
    t.regex(twice.stdout, /^would (retry|discard) 0 rows \(failed rows with id #999999\); dry run: nothing changed\n1 given id matched no failed row/);
  }
  t.deepEqual(await rows(db), before);
});
