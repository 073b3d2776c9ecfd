/**
 * Every statement the jobs send to SQL Server, without a SQL Server: the real library
 * functions run on knex's mssql client with a recording connection (test/helpers/
 * mssql-recorder.ts) that answers as the scenario needs, so each job takes its whole
 * path, chunking included. What they send is
 *   - kept in sql/mssql-jobs.sql, which this test compares (regenerate it with
 *     `npm run snapshots` after a deliberate change, and review the diff);
 *   - parsed by a T-SQL grammar, so a syntax error cannot land unnoticed;
 *   - checked against SQL Server's limits: 2,100 parameters, 1,000 rows per VALUES.
 * Nothing here proves what SQL Server does with the statements: see the README.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { migrate, selectMigrations } from '../src/db/migrate.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { RescopeBus } from '../src/rescope/bus.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { enqueue } from '../src/rescope/enqueue.js';
import type { EnqueueRequest } from '../src/rescope/enqueue-request.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { discardFailed, listFailed, releaseDispatched, releaseProcessing, retryFailed } from '../src/rescope/queue-table.js';
import { rescopeShow } from '../src/rescope/show.js';
import { waitForLearners } from '../src/rescope/wait.js';
import { explainLearner } from '../src/rescope/explain-learner.js';
import { getStatus } from '../src/status/status.js';
import { type MssqlRecorder, type Recorded, mssqlRecorder } from './helpers/mssql-recorder.js';
import { redisUrl } from './helpers/redis.js';
import { parseTsql } from './helpers/tsql-parser.js';

const snapshotFile = fileURLToPath(new URL('../../sql/mssql-jobs.sql', import.meta.url));
const ddlFile = fileURLToPath(new URL('../../sql/mssql.sql', import.meta.url));
const update = process.env.MTC_BATCH_UPDATE_SNAPSHOTS === '1';

/** The statements of the reviewed DDL file, without comments or the final semicolon. */
function ddlStatements(): string[] {
  return readFileSync(ddlFile, 'utf8')
    .split(/^GO$/m)
    .map((batch) => batch.replace(/^--.*$/gm, '').trim().replace(/;$/, ''))
    .filter((statement) => statement !== '');
}

/** Fixed ids, so the recording is the same on every run. */
const id = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
const [C1, C2, C3] = [id(101), id(102), id(103)];
const [K1, K2] = [id(201), id(202)];
const U = (n: number) => id(1000 + n);
const now = new Date('2026-03-02T10:00:00.000Z');

const request = (r: Partial<EnqueueRequest> & Pick<EnqueueRequest, 'source'>): EnqueueRequest => ({ classId: null, courseId: null, memberIds: [], repeatedMembers: 0, override: false, ...r });
const classRow = (classId: string, rescope = true) => ({ id: classId, course_id: K1, creator_id: U(0), rescope, is_deleted: false, is_archived: false });
/** knex's count of an UPDATE or DELETE (`;select @@rowcount`). */
const rowcount = (n: number) => [{ '': n }];
/** Our count of a raw statement (the affected-row suffix). */
const affected = (n: number) => [{ affected_rows: n }];
/** Rows in a multi-row VALUES insert of `columns` columns. */
const valuesRows = (bindings: unknown[], columns: number) => bindings.length / columns;

interface Section {
  title: string;
  statements: Recorded[];
}

interface Run {
  sections: Section[];
  /** What the scenarios returned, to check they took the intended path. */
  results: Record<string, unknown>;
}

async function scenarios(r: MssqlRecorder, redis: Redis, prefix: string): Promise<Run> {
  const sections: Section[] = [];
  const results: Record<string, unknown> = {};
  const section = async (title: string, fn: () => Promise<unknown>) => {
    results[title] = await fn();
    sections.push({ title, statements: r.take() });
  };
  const bus = new RescopeBus(redis, `${prefix}bus`);
  const notificationOptions = { notificationTtlSeconds: 3900, notificationPrefix: `${prefix}overdue:`, notificationIndexKey: `${prefix}{overdue}:notified`, notificationFormat: 'mtc' as const, now };

  await section('migrate (a new database)', () => migrate(r.db));

  r.on(/from \[class\] where \[id\] in/, [classRow(C1), classRow(C2), classRow(C3, false)], 1);
  r.on(/from \[course\] where \[id\] in/, [{ id: K2, version: '3', is_deleted: false }], 1);
  r.on(/from \[class_member\] where \[class_id\] = @p0 and \[is_active\] = @p1 and \[user_id\] in/, [{ user_id: U(1) }, { user_id: U(2) }], 1);
  r.on(/^insert into \[rescope_queue\]/, affected(2), 1); // one of three already queued
  r.on(/^update \[rescope_queue\] set \[status\] = @p0, \[attempts\]/, rowcount(1)); // and it had failed
  r.on(/^INSERT INTO \[rescope_queue\] .* SELECT/, affected(5), 1);
  r.on(/count\(\*\) as \[n\] from \[class_member\]/, [{ n: 7 }], 1);
  await section('enqueue: join.class, oob, assign.course.to.class, and a class with rescope off', () =>
    enqueue(r.db, [
      { line: 1, request: request({ source: 'join.class', classId: C1, memberIds: [U(1), U(2), U(3)] }) },
      { line: 2, request: request({ source: 'oob', courseId: K2, memberIds: [U(4)] }) },
      { line: 3, request: request({ source: 'assign.course.to.class', classId: C2 }) },
      { line: 4, request: request({ source: 'rescope', classId: C3 }) },
    ]),
  );

  const many = Array.from({ length: 1_500 }, (_, i) => U(10_000 + i));
  r.on(/from \[class\] where \[id\] in/, [classRow(C1)], 1);
  r.on(/from \[class_member\] where .* \[user_id\] in/, many.map((user_id) => ({ user_id })), 1);
  r.on(/^insert into \[rescope_queue\]/, (b) => affected(valuesRows(b, 6)));
  await section('enqueue: join.class for 1,500 learners (inserts of 350 rows × 6 parameters)', () =>
    enqueue(r.db, [{ line: 1, request: request({ source: 'join.class', classId: C1, memberIds: many }) }]),
  );

  r.on(/from \[class\] where \[id\] in/, [classRow(C1)], 1);
  r.on(/from \[class_member\] where .* \[user_id\] in/, [{ user_id: U(1) }, { user_id: U(2) }], 1);
  r.on(/^insert into \[rescope_queue\]/, affected(0), 1);
  await section('enqueue: an override request for learners already queued marks their rows', () =>
    enqueue(r.db, [{ line: 1, request: request({ source: 'join.class', classId: C1, memberIds: [U(1), U(2)], override: true }) }]),
  );

  r.on(/^update \[rescope_queue\] set \[status\] = CASE/, [{ status: null }, { status: 'failed' }], 1);
  r.on(/^WITH picked AS/, [{ id: 3, priority: 4 }, { id: 1, priority: 1 }, { id: 2, priority: 2 }], 1);
  await section('dispatch: recover expired leases, then claim', () => dispatch(r.db, bus, { batchSize: 1000, batches: 2, leaseSeconds: 600, maxAttempts: 5, maxBusLength: 10_000 }));
  await section('dispatch: the bus refused the ids; the rows go back to the queue', () => releaseDispatched(r.db, [1, 2, 3]));

  // The bus now holds 3, 1, 2; add a duplicate and junk. Row 3's learner already has content.
  await redis.rpush(bus.key, '2', 'junk');
  const learnerOf = (rowId: number) => ({ id: rowId, user_id: U(rowId), course_id: K1, class_id: rowId === 3 ? null : C1, attempts: rowId === 2 ? 4 : 0 });
  r.on(/^delete from \[rescope_queue\] where \[id\] in .* and \[status\] = @p\d+ and \[override\] = @p\d+ and exists \(select 1 from \[rescoped_content\]/, rowcount(1), 1);
  r.on(/^update \[rescope_queue\] set \[status\] = @p0, \[updated_at\] = \(SYSUTCDATETIME\(\)\) output inserted\.\[id\], inserted\.\[user_id\]/, [1, 2].map(learnerOf), 1);
  r.on(/from \[course_item\] as \[ci\] left join/, [
    { id: id(301), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'video', sequence: 1, competency_code: 'a' },
    { id: id(302), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'quiz', sequence: 2, competency_code: 'b' },
  ], 1);
  r.on(/from \[user_competency_status\] as \[s\]/, [{ user_id: U(1), codes: '["a","b"]' }], 1);
  // Storing the two fails as a batch and for row 2 alone (a database error on that row).
  r.on(/^insert into \[rescoped_content\]/, (b) => {
    if (b.includes(U(2))) throw new Error('simulated: the row for learner 2 violates a constraint');
    return affected(valuesRows(b, 4));
  });
  r.on(/^delete from \[rescope_queue\] where \[id\] in .* and \[status\] = @p\d+;select @@rowcount$/, (b) => rowcount(b.length - 1), 1);
  r.on(/^update \[rescope_queue\] set \[attempts\] = @p0, \[last_error\]/, rowcount(1));
  await section('process: claim, compute, store; a duplicate, junk, a row already done, a row that cannot be stored', () =>
    processQueue(r.db, bus, { batchSize: 10, concurrency: 1, maxAttempts: 5, retryDelaySeconds: 30 }),
  );

  const ids = Array.from({ length: 1_200 }, (_, i) => 10_000 + i);
  await bus.push(ids);
  r.on(/^update \[rescope_queue\] set \[status\] = @p0, \[updated_at\] = \(SYSUTCDATETIME\(\)\) output inserted\.\[id\], inserted\.\[user_id\]/, (b) => b.filter((x): x is number => typeof x === 'number').map((n) => ({ id: n, user_id: U(n), course_id: K1, class_id: C1, attempts: 0, override: false })), 1);
  r.on(/from \[course_item\] as \[ci\] left join/, [{ id: id(301), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'video', sequence: 1, competency_code: 'a' }], 1);
  r.on(/^insert into \[rescoped_content\]/, (b) => affected(valuesRows(b, 4)));
  r.on(/^delete from \[rescope_queue\] where \[id\] in .* and \[status\] = @p\d+;select @@rowcount$/, (b) => rowcount(b.length - 1), 1);
  await section('process: a batch of 1,200 (lists of 1,200 ids; inserts of 525 rows × 4 parameters)', () =>
    processQueue(r.db, bus, { batchSize: 1_200, concurrency: 1, maxAttempts: 5, retryDelaySeconds: 30 }),
  );
  await section('process: stopping with rows unfinished; they go back to the queue', () => releaseProcessing(r.db, [10, 11]));

  // An override row: its learner's content is replaced in place (UPDATE, then INSERT of the rest, one batch).
  await bus.push([20, 21]);
  r.on(/^update \[rescope_queue\] set \[status\] = @p0, \[updated_at\] = \(SYSUTCDATETIME\(\)\) output inserted\.\[id\], inserted\.\[user_id\]/, [20, 21].map((n) => ({ id: n, user_id: U(n), course_id: K1, class_id: n === 20 ? C1 : null, attempts: 0, override: true })), 1);
  r.on(/from \[course_item\] as \[ci\] left join/, [{ id: id(301), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'assessment', sequence: 1, competency_code: 'a' }], 1);
  r.on(/from \[user_competency_status\] as \[s\]/, [{ user_id: U(20), codes: '["a"]' }], 1);
  r.on(/^delete from \[rescope_queue\] where \[id\] in .* and \[status\] = @p\d+;select @@rowcount$/, rowcount(2), 1);
  await section('process: override rows replace their learners\' content in one batch', () =>
    processQueue(r.db, bus, { batchSize: 10, concurrency: 1, maxAttempts: 5, retryDelaySeconds: 30 }),
  );

  r.on(/^SELECT s\.\[urlSlug\] AS school_uuid/, [
    { school_uuid: id(601).toUpperCase(), failed_pupils: `["${id(701)}"]`, overdue_checks: `["${id(801)}","${id(802)}"]`, failed_count: 1, overdue_count: 2 },
    { school_uuid: id(602).toUpperCase(), failed_pupils: null, overdue_checks: `["${id(803)}"]`, failed_count: 0, overdue_count: 1 },
  ], 1);
  await section('overdue-sync', () => overdueSync(r.db, redis, { ...notificationOptions, overdueAfterMinutes: 1440 }));

  r.on(/^update \[check\] set \[processingFailed\]/, rowcount(1), 1);
  r.on(/from \[check\] as \[c\] inner join \[pupil\]/, [
    { checkCode: id(901), check_id: 9, currentCheckId: 9, attendanceId: null, pupil_uuid: id(911), school_uuid: id(601) },
    { checkCode: id(902), check_id: 8, currentCheckId: 10, attendanceId: null, pupil_uuid: id(912), school_uuid: id(601) },
  ], 1);
  await section('notify-invalid', () => notifyInvalid(r.db, redis, [{ line: 1, checkCode: id(901) }, { line: 2, checkCode: id(902) }, { line: 3, checkCode: id(903) }], notificationOptions));

  const sessionPrefix = `${prefix}session:`;
  await redis.set(`${sessionPrefix}token-of-learner-1`, JSON.stringify({ user_id: U(1) }), 'EX', 600);
  const { id: _id, ...classFacts } = classRow(C1);
  r.on(/^SELECT \[k\]\.\[course_id\]/, [{ ...classFacts, target_is_member: 1, caller_is_collaborator: 0, content: null }], 1);
  r.on(/from \[class\] where \[id\] in/, [classRow(C1)]);
  r.on(/from \[class_member\] where .* \[user_id\] in/, [{ user_id: U(1) }]);
  r.on(/^insert into \[rescope_queue\]/, affected(1), 1);
  await section('rescope-show: a learner\'s own content in a class, not there yet, so queued', () =>
    rescopeShow(r.db, redis, { token: 'token-of-learner-1', courseId: K1, classId: C1 }, { sessionPrefix }),
  );
  r.on(/^SELECT \[co\]\.\[version\]/, [{ version: '3', is_deleted: false, content: '{"units":[]}' }], 1);
  await section('rescope-show: independent learning, found', () => rescopeShow(r.db, redis, { token: 'token-of-learner-1', courseId: K2, classId: null }, { sessionPrefix }));

  r.on(/INFORMATION_SCHEMA\.TABLES/i, [{ TABLE_NAME: 'mtc_batch_migrations' }], 1);
  r.on(/^select \[name\] from \[mtc_batch_migrations\]$/, selectMigrations(false).wanted.map((m) => ({ name: m.name })), 1);
  r.on(/group by \[status\]$/, [{ status: null, n: 3, oldest: new Date('2026-03-02T09:00:00Z'), now }, { status: 'failed', n: 1, oldest: now, now }], 1);
  await section('status', () =>
    getStatus(r.db, Promise.resolve(redis), { leaseSeconds: 600, busKey: bus.key, notificationIndexKey: notificationOptions.notificationIndexKey, notificationTtlSeconds: 3900 }),
  );
  r.on(/^select count\(\*\) as \[n\] from \[rescope_queue\] where \[status\] = @p0 and \[class_id\]/, [{ n: 3 }], 1);
  r.on(/group by \[last_error\]$/, [{ last_error: `storing content failed for ${U(1)}`, n: 2 }, { last_error: `storing content failed for ${U(2)}`, n: 1 }], 1);
  await section('failed: the failed rows of a class, grouped by error, newest first', () => listFailed(r.db, { classId: C1 }, 50));
  const manyIds = Array.from({ length: 2_500 }, (_, i) => i + 1);
  r.on(/^update \[rescope_queue\] set \[status\] = @p0, \[attempts\] = @p1, \[available_at\]/, (b) => rowcount(b.length - 4)); // all but status, attempts, 'failed' and the text are ids
  await section('retry-failed --id (2,500 ids, in chunks) --error-contains', () => retryFailed(r.db, { ids: manyIds, errorContains: 'Timeout' }));
  r.on(/^select count\(\*\) as \[n\] from \[rescope_queue\] where \[status\] = @p0 and \[course_id\]/, [{ n: 4 }], 1);
  await section('discard-failed --course --dry-run, then --all', async () => [await discardFailed(r.db, { courseId: K1 }, { dryRun: true }), await discardFailed(r.db, { all: true })]);
  r.on(/from \[course_item\] as \[ci\] left join/, [
    { id: id(301), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'assessment', sequence: 1, competency_code: 'a' },
    { id: id(302), course_id: K1, unit_id: id(401), lesson_id: id(501), format: 'collection', sequence: 2, competency_code: 'b' },
  ], 1);
  r.on(/^select \[s\]\.\[competency_code\], \[s\]\.\[status\]/, [{ competency_code: 'a', status: 'mastered' }], 1);
  await section('rescope-show --explain: the course and the learner\'s statuses', () => explainLearner(r.db, { userId: U(1), courseId: K1, classId: C1 }));
  r.on(/^SELECT \(SYSUTCDATETIME\(\)\) AS \[now\]$/, [{ now }]);
  r.on(/^select \[user_id\], \[status\], \[available_at\]/, [{ user_id: U(1), status: 'dispatched', available_at: now, attempts: 0, last_error: null }], 1);
  r.on(/from \[rescoped_content\] where \[user_id\] in/, [{ user_id: U(2), course_id: K1, class_id: C1 }], 1);
  await section('enqueue --wait: where the learners stand, and what moved since the wait began', () =>
    waitForLearners(r.db, [U(1), U(2), U(3)].map((userId) => ({ userId, courseId: K1, classId: C1 })), { timeoutMs: 0 }),
  );
  return { sections, results };
}

// ------------------------------------------------------------------ rendering

/** Long parameter lists and VALUES rows shortened for reading; the tests check the full text. */
function abbreviate(sql: string): string {
  const tuple = String.raw`\((?:@p\d+, )*@p\d+\)`;
  return sql
    .replace(new RegExp(`(${tuple})((?:, ${tuple}){4,})`, 'g'), (_m, first: string, rest: string) => {
      const tuples = rest.slice(2).split(/\), \(/);
      const last = `(${tuples[tuples.length - 1]!.replace(/^\(/, '')}`;
      return `${first}, /* … ${tuples.length - 1} more rows … */ ${last}`;
    })
    .replace(/(@p\d+, @p\d+)((?:, @p\d+){6,})/g, (_m, firstTwo: string, rest: string) => {
      const params = rest.split(', ').filter(Boolean);
      return `${firstTwo}, /* … ${params.length - 1} more … */ ${params[params.length - 1]}`;
    });
}

function parameterSummary(types: readonly string[]): string {
  if (types.length === 0) return 'no parameters';
  const counts = new Map<string, number>();
  for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
  return `${types.length} parameter${types.length > 1 ? 's' : ''}: ${[...counts].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(', ')}`;
}

/**
 * The kept text. Statements that are in sql/mssql.sql (migrate's DDL) are not repeated:
 * each run of them is one line saying how many (a test checks they are those, in order).
 */
function render(sections: readonly Section[], ddl: ReadonlySet<string>): string {
  const out = [
    '-- Every statement the mtc-batch jobs send to SQL Server, in the order they send them.',
    '-- Recorded by test/mssql-statements.test.ts through knex\'s mssql client (no server) and',
    '-- parsed there by a T-SQL grammar. Regenerate with `npm run snapshots` and review the diff.',
    '-- Long parameter lists are shortened here; @pN are tedious\'s named parameters.',
    '',
  ];
  for (const { title, statements } of sections) {
    out.push(`-- ==== ${title}`, '');
    let n = 0;
    for (let i = 0; i < statements.length; i++) {
      const s = statements[i]!;
      if (ddl.has(s.sql)) {
        let run = 1;
        while (statements[i + run] && ddl.has(statements[i + run]!.sql)) run++;
        out.push(run === 1 ? `-- ${n + 1}. the next statement of sql/mssql.sql, as written there` : `-- ${n + 1}.–${n + run}. the next ${run} statements of sql/mssql.sql, as written there`, '');
        n += run;
        i += run - 1;
        continue;
      }
      let repeats = 1;
      while (statements[i + repeats]?.sql === s.sql && statements[i + repeats]!.types.join() === s.types.join()) repeats++;
      if (s.marker) {
        out.push(s.sql, '');
      } else {
        n++;
        out.push(`-- ${n}. ${parameterSummary(s.types)}${repeats > 1 ? `; sent ${repeats} times in a row` : ''}`, `${abbreviate(s.sql).replace(/;?$/, ';')}`, '');
      }
      i += repeats - 1;
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

// ------------------------------------------------------------------ tests

let recording: Promise<Run> | undefined;
const prefix = `test:${randomBytes(5).toString('hex')}:`;
let redis: Redis | undefined;

function recorded(): Promise<Run> {
  recording ??= (async () => {
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const r = mssqlRecorder();
    try {
      return await scenarios(r, redis, prefix);
    } finally {
      await r.close();
    }
  })();
  return recording;
}

test.after.always(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
});

test('each scenario takes the path it is meant to', async (t) => {
  const { results } = await recorded();
  const r = (title: string) => results[Object.keys(results).find((k) => k.startsWith(title))!];
  // 2 + 5 new rows; one failed row re-queued for each of the three (course, class, source) groups.
  t.like(r('enqueue: join.class, oob'), { queued: 7, dropped: 1, requeued: 3, rescopeOff: [{ line: 4, classId: C3 }], rejected: [] });
  t.like(r('enqueue: join.class for 1,500'), { queued: 1_500, duplicates: 0 });
  t.like(r('dispatch: recover'), { recovered: 1, failed: 1, dispatched: 3 });
  t.like(r('process: claim'), { processed: 1, alreadyDone: 1, failed: 1, retried: 0, ignored: 1, invalidMessages: 1 });
  t.like(r('process: a batch of 1,200'), { processed: 1_200 });
  t.like(r('failed: the failed rows'), { total: 3, byError: [{ error: 'storing content failed for <id>', rows: 3 }] });
  t.is(r('retry-failed --id'), 2_500);
  t.like(r('rescope-show --explain'), { content: { lessons: [], assessments: [id(301)], collections: [] } });
  t.like(r('enqueue --wait'), { outcome: 'timed-out', learners: 3, done: [{ userId: U(2) }], removed: [{ userId: U(3) }], pending: [{ userId: U(1), state: 'dispatched' }] });
  t.deepEqual(r('discard-failed --course'), [4, 0]);
  t.like(r('process: override rows'), { processed: 2, alreadyDone: 0, failed: 0, retried: 0 });
  t.like(r('overdue-sync'), { schools: 2, overdueChecks: 3, processingErrors: 1 });
  t.like(r('notify-invalid'), { handled: 2, schools: 1, notCurrent: 1 });
  t.like(r('rescope-show: a learner'), { status: 'queued', alreadyQueued: false });
  t.like(r('rescope-show: independent'), { status: 'found', content: '{"units":[]}' });
  t.like(r('status'), { queue: { queued: 3, failed: 1 } });
});

test('every statement parses as T-SQL', async (t) => {
  const { sections } = await recorded();
  let parsed = 0;
  for (const { title, statements } of sections) {
    for (const s of statements.filter((x) => !x.marker)) {
      const errors = parseTsql(s.sql);
      t.deepEqual(errors, [], `${title}: ${abbreviate(s.sql).slice(0, 300)}`);
      parsed++;
    }
  }
  t.true(parsed > 60, `parsed ${parsed} statements`);
});

test('the parser is not a rubber stamp', (t) => {
  t.not(parseTsql('select [id] from [rescope_queue] where').length, 0);
  t.not(parseTsql('UPDATE picked SET [status] = N\'x\' OUTPUT inserted.[id] WHERE').length, 0);
  t.not(parseTsql('insert into [t] ([a]) values (@p0), (@p1').length, 0);
  t.deepEqual(parseTsql('insert into [t] ([a]) values (@p0), (@p1)'), []);
});

test('no statement passes 2,100 parameters or 1,000 VALUES rows; big inputs are cut to fill them', async (t) => {
  const { sections } = await recorded();
  const all = sections.flatMap((s) => s.statements).filter((s) => !s.marker);
  for (const s of all) {
    t.true(s.types.length <= 2_100, `${s.types.length} parameters: ${abbreviate(s.sql).slice(0, 200)}`);
    const rows = s.sql.match(/\), \(@p/g)?.length ?? 0;
    t.true(rows < 1_000, abbreviate(s.sql).slice(0, 200));
  }
  const rowsInserted = (title: string, table: string, columns: number) =>
    sections
      .find((s) => s.title.startsWith(title))!
      .statements.filter((s) => s.sql.startsWith(`insert into [${table}]`))
      .map((s) => s.types.length / columns);
  t.deepEqual(rowsInserted('enqueue: join.class for 1,500', 'rescope_queue', 6), [350, 350, 350, 350, 100], 'queue rows: 2,100 / 6 columns');
  t.deepEqual(rowsInserted('process: a batch', 'rescoped_content', 4), [525, 525, 150], 'content rows: 2,100 / 4 columns');
});

test('the claim takes rows with ROWLOCK, READPAST, UPDLOCK and returns them with OUTPUT in one statement', async (t) => {
  const { sections } = await recorded();
  const dispatchSql = sections.find((s) => s.title.startsWith('dispatch: recover'))!.statements.map((s) => s.sql);
  const claim = dispatchSql.find((sql) => sql.startsWith('WITH picked AS'));
  t.truthy(claim);
  t.regex(claim!, /FROM \[rescope_queue\] WITH \(ROWLOCK, READPAST, UPDLOCK\) WHERE \[status\] IS NULL/);
  t.regex(claim!, /UPDATE picked SET \[status\] = N'dispatched'.* OUTPUT inserted\.\[id\], inserted\.\[priority\]$/);
  // The compare-and-set moves of process name the state they expect.
  const processSql = sections.find((s) => s.title.startsWith('process: claim'))!.statements.map((s) => s.sql);
  t.true(processSql.some((sql) => /^update \[rescope_queue\] set \[status\] = @p0, .* output inserted\.\[id\], .* where \[id\] in \(.*\) and \[status\] = @p\d+$/.test(sql)));
  t.true(processSql.some((sql) => /^delete from \[rescope_queue\] where \[id\] in \(.*\) and \[status\] = @p\d+ and \[override\] = @p\d+ and exists \(select 1 from \[rescoped_content\] as \[c\] where \[c\]\.\[user_id\] = \[rescope_queue\]\.\[user_id\]/.test(sql)));
});

test('sql/mssql-jobs.sql is up to date (npm run snapshots rewrites it)', async (t) => {
  const text = render((await recorded()).sections, new Set(ddlStatements()));
  if (update) {
    writeFileSync(snapshotFile, text);
    t.pass();
    return;
  }
  const kept = readFileSync(snapshotFile, 'utf8');
  if (kept === text) return t.pass();
  const [a, b] = [kept.split('\n'), text.split('\n')];
  const line = a.findIndex((l, i) => l !== b[i]);
  t.fail(`sql/mssql-jobs.sql differs from what the jobs send, first at line ${line + 1}:\n  kept: ${a[line]}\n  sent: ${b[line]}\nIf the change is meant, run npm run snapshots and review the diff.`);
});

test('the SQL Server DDL (sql/mssql.sql) parses as T-SQL, batch by batch', (t) => {
  const batches = ddlStatements();
  t.true(batches.length > 20);
  for (const batch of batches) t.deepEqual(parseTsql(batch), [], batch.slice(0, 200));
});

test('migrate sends exactly the DDL of sql/mssql.sql, in order', async (t) => {
  const migrateSection = (await recorded()).sections.find((s) => s.title.startsWith('migrate'))!;
  // The file records each step with its name written out; migrate binds it.
  const isBookkeepingInsert = (sql: string) => sql.startsWith('insert into [mtc_batch_migrations]');
  const sent = migrateSection.statements
    .filter((s) => !s.marker && !isBookkeepingInsert(s.sql) && !s.sql.includes('sp_getapplock') && s.sql !== 'select [name] from [mtc_batch_migrations]')
    .map((s) => s.sql);
  t.deepEqual(sent, ddlStatements().filter((sql) => !isBookkeepingInsert(sql)));
});
