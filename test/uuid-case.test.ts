/**
 * The surrounding systems may store ids in upper case (SQL Server hands out upper-case
 * uniqueidentifiers). Every reference table below holds upper-case ids; requests, sessions
 * and our own tables use lower case. PostgreSQL's uuid type compares them equal by
 * nature; on SQLite, where ids are text, the columns compare case-insensitively.
 */
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { Database } from '../src/db/database.js';
import { bookkeepingTable, migrate } from '../src/db/migrate.js';
import { migrations } from '../src/db/migrations/index.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { runCli } from './helpers/cli.js';
import { dialectsUnderTest, eachDialect, isolatedDatabase } from './helpers/databases.js';
import { contentRows, enqueueRequests, queueRows, rescopeFixture } from './helpers/rescope.js';

const settings = { batchSize: 100, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1 };
const upper = () => randomUUID().toUpperCase();

eachDialect('ids stored upper-case in every reference table are matched: enqueue, process and rescope-show see the member', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const [course, unit, lesson1, lesson2, item1, item2, item3, klass, teacher, coTeacher, learner, classmate] = Array.from({ length: 12 }, upper) as string[] as [
    string, string, string, string, string, string, string, string, string, string, string, string,
  ];
  const k = f.db.knex;
  await k('course').insert({ id: course, title: 'Upper', version: 'v1', is_deleted: false });
  await k('course_item').insert([
    { id: item1, course_id: course, unit_id: unit, lesson_id: lesson1, format: 'assessment', sequence: 1, is_deleted: false },
    { id: item2, course_id: course, unit_id: unit, lesson_id: lesson1, format: 'collection', sequence: 2, is_deleted: false },
    { id: item3, course_id: course, unit_id: unit, lesson_id: lesson2, format: 'assessment', sequence: 3, is_deleted: false },
  ]);
  await k('course_item_competency').insert([
    { item_id: item1, competency_code: 'a' },
    { item_id: item2, competency_code: 'b' },
    { item_id: item3, competency_code: 'c' },
  ]);
  await k('class').insert({ id: klass, course_id: course, creator_id: teacher, rescope: true, is_deleted: false, is_archived: false });
  await k('class_collaborator').insert({ class_id: klass, user_id: coTeacher });
  await k('class_member').insert([
    { class_id: klass, user_id: learner, is_active: true },
    { class_id: klass, user_id: classmate, is_active: true },
  ]);
  await k('user_competency_status').insert([
    { user_id: learner, competency_code: 'a', status: 'mastered' },
    { user_id: learner, competency_code: 'b', status: 'completed' },
  ]);
  const lower = (id: string) => id.toLowerCase();

  // A member-list request (ids lower-cased by the API) and a class-wide one (INSERT … SELECT).
  t.like(await enqueueRequests(f.db, { source: 'join.class', classId: klass, courseId: course, memberIds: [learner] }), { queued: 1, dropped: 0, rejected: [] });
  t.like(await enqueueRequests(f.db, { source: 'rescope', classId: klass }), { queued: 1, duplicates: 1, rejected: [] });
  const raw: Array<{ user_id: unknown; course_id: unknown; class_id: unknown }> = await k('rescope_queue').select('user_id', 'course_id', 'class_id');
  const ids = raw.flatMap((r) => [r.user_id, r.course_id, r.class_id].map(String));
  t.true(ids.every((id) => id === id.toLowerCase()), `our own table holds lower-case ids: ${ids.join(', ')}`);
  t.deepEqual((await queueRows(f.db)).map((r) => r.userId).sort(), [lower(learner), lower(classmate)].sort());

  await dispatch(f.db, f.bus, settings);
  t.like(await processQueue(f.db, f.bus, settings), { processed: 2, failed: 0 });
  const content = new Map((await contentRows(f.db)).map((r) => [r.userId, r.content]));
  t.deepEqual(content.get(lower(learner)), {
    units: [],
    lessons: [lower(lesson1)],
    assessments: [lower(item1)],
    collections: [lower(item2)],
    assessmentsExternal: [],
    collectionsExternal: [],
  });

  // A learner's own session, the teacher's and the co-teacher's (sessions hold whatever case the platform wrote).
  const sessionPrefix = `${f.redis.prefix}session:`;
  for (const [caller, user] of [[lower(learner), undefined], [teacher, learner], [lower(coTeacher), lower(learner)]] as const) {
    const token = randomUUID();
    await f.redis.client.set(`${sessionPrefix}${token}`, JSON.stringify({ user_id: caller }), 'EX', 600);
    const args = ['rescope-show', '--token', token, '--course', course, '--class', klass, '--json', ...(user ? ['--user', user] : [])];
    const shown = await runCli(args, { env: { ...f.env, MTC_BATCH_SESSION_PREFIX: sessionPrefix } });
    t.is(shown.code, 0, `${caller}: ${shown.stdout} ${shown.stderr}`);
    t.deepEqual(shown.json<{ content: unknown }>().content, content.get(lower(learner)));
  }
});

/** An SQLite database with the schema as it was before the collation migrations. */
async function schemaBeforeCollation(t: ExecutionContext): Promise<Database> {
  const db = await (await isolatedDatabase(t, 'sqlite')).open();
  await db.knex.transaction(async (trx) => {
    await trx.raw(db.dialect.createBookkeepingSql(bookkeepingTable));
    for (const m of migrations.filter((m) => m.name < '0005')) {
      for (const sql of m.statements(db.knex, db.dialect)) await trx.raw(sql);
      await trx(bookkeepingTable).insert({ name: m.name, applied_at: new Date() });
    }
  });
  return db;
}

if (dialectsUnderTest().includes('sqlite')) {
  test('SQLite: reference rows whose ids differ only by case in one key stop the upgrade, and nothing changes [sqlite]', async (t) => {
    const db = await schemaBeforeCollation(t);
    const [klass, learner] = [upper(), upper()];
    await db.knex('class').insert({ id: klass, creator_id: upper() });
    await db.knex('class_member').insert([{ class_id: klass, user_id: learner }, { class_id: klass, user_id: learner.toLowerCase() }]);
    const failure = await migrate(db).then(() => 'migrated', (err: { message?: string }) => String(err.message));
    t.regex(failure, /constraint failed: class_member/);
    t.is((await db.knex('class_member').select()).length, 2);
    t.deepEqual(await db.knex(bookkeepingTable).where('name', '>=', '0005').pluck('name'), []);
  });

  test('SQLite: upgrading a database with data keeps every row, lower-cases our own ids and keeps the id counters [sqlite]', async (t) => {
    const db = await schemaBeforeCollation(t);
    const k = db.knex;
    const [course, klass, learner, item] = [upper(), upper(), upper(), upper()];
    await k('course').insert({ id: course, version: 'v1' });
    await k('course_item').insert({ id: item, course_id: course, unit_id: upper(), lesson_id: upper(), format: 'assessment' });
    await k('course_item_competency').insert({ item_id: item, competency_code: 'a' });
    await k('class').insert({ id: klass, course_id: course, creator_id: upper(), rescope: true });
    await k('class_member').insert({ class_id: klass, user_id: learner });
    await k('class_collaborator').insert({ class_id: klass, user_id: upper() });
    await k('user_competency_status').insert({ user_id: learner, competency_code: 'a', status: 'mastered' });
    // What the old INSERT … SELECT wrote: the member's id in upper case, then the same learner in lower case.
    const row = (user: string, source: string) => ({ user_id: user, course_id: course.toLowerCase(), class_id: klass.toLowerCase(), source, priority: 4 });
    await k('rescope_queue').insert([row(learner, 'rescope'), row(learner.toLowerCase(), 'oob'), row(upper(), 'rescope')]);
    const [gone] = await k('rescope_queue').insert(row(upper(), 'rescope')).returning('id');
    await k('rescope_queue').where('id', (gone as { id: number }).id).del();
    await k('rescoped_content').insert({ user_id: learner, course_id: course, class_id: klass, skipped_content: '{"units":[]}' });
    const [schoolSlug, pupilSlug, checkCode] = [upper(), upper(), upper()];
    const [school] = await k('school').insert({ urlSlug: schoolSlug, name: 'S' }).returning('id');
    const [pupil] = await k('pupil').insert({ school_id: (school as { id: number }).id, urlSlug: pupilSlug }).returning('id');
    await k('check').insert({ pupil_id: (pupil as { id: number }).id, checkCode, pupilLoginDate: new Date() });
    const counts = async () => Object.fromEntries(
      await Promise.all(['course', 'course_item', 'course_item_competency', 'class', 'class_member', 'class_collaborator', 'user_competency_status', 'rescoped_content', 'school', 'pupil', 'check'].map(async (table) => [table, Number((await k(table).count({ n: '*' }))[0]!.n)])),
    );
    const rowsBefore = await counts();

    const migrated = await migrate(db).catch((err: Error) => { throw new Error(`migrate: ${err.message}`); });
    t.deepEqual(migrated.applied, ['0005_owned_uuid_collation', '0006_reference_uuid_collation', '0007_mtc_uuid_collation']);
    t.deepEqual(await counts(), rowsBefore, 'no reference or content row lost');
    t.is(String((await k('course').first('id'))!.id), course, 'reference ids are kept as the other system wrote them');
    const queue: Array<{ id: number; user_id: string; source: string }> = await k('rescope_queue').select('id', 'user_id', 'source').orderBy('id');
    t.is(queue.length, 2, 'the learner queued twice in different case keeps one row');
    t.true(queue.every((r) => r.user_id === r.user_id.toLowerCase()));
    t.is(queue.find((r) => r.user_id === learner.toLowerCase())?.source, 'oob', 'the newest of the two');
    const [next] = await k('rescope_queue').insert(row(upper().toLowerCase(), 'oob')).returning('id');
    t.true((next as { id: number }).id > (gone as { id: number }).id, 'ids of deleted rows are not handed out again');
    const indexes = (await k('sqlite_master').where('type', 'index').pluck('name')) as string[];
    for (const name of [
      'rescope_queue_claim_ix', 'rescope_queue_learner_uq', 'rescoped_content_learner_uq', 'course_item_course_ix', 'course_item_competency_code_ix', 'user_competency_status_pkey',
      'school_urlslug_uq', 'pupil_urlslug_uq', 'pupil_current_check_ix', 'pupil_school_ix', 'check_checkcode_uq', 'check_login_date_ix', 'check_processing_failed_ix', 'check_pupil_ix',
    ]) {
      t.true(indexes.includes(name), name);
    }
    t.deepEqual(await k.raw('PRAGMA foreign_key_check'), []);
    t.is((await k('check').where('checkCode', checkCode.toLowerCase()).first('checkCode'))?.checkCode, checkCode, 'a check code matches in any case');
    t.truthy(await k('pupil').where('urlSlug', pupilSlug.toLowerCase()).first());
    t.truthy(await k('school').where('urlSlug', schoolSlug.toLowerCase()).first());
    await t.throwsAsync(k('check').insert({ pupil_id: (pupil as { id: number }).id, checkCode: checkCode.toLowerCase() }), { any: true, message: /UNIQUE constraint failed/ }, 'unique across case');
    // The unique index holds across case now: the same learner in upper case is a duplicate.
    t.like(await enqueueRequests(db, { source: 'join.class', classId: klass, memberIds: [learner] }), { queued: 0, duplicates: 1 });
    t.true(await k('class_member').where({ class_id: klass.toLowerCase(), user_id: learner.toLowerCase() }).first().then(Boolean));
  });
}
