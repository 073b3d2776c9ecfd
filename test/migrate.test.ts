import { PassThrough } from 'node:stream';
import test from 'ava';
import pg from 'pg';
import { assertMigrated, bookkeepingTable, migrate } from '../src/db/migrate.js';
import { migrations } from '../src/db/migrations/index.js';
import { openDatabase } from '../src/db/database.js';
import { SchemaError } from '../src/errors.js';
import { createLogger } from '../src/log/logger.js';
import { eachDialect, isolatedDatabase, postgresOnly } from './helpers/databases.js';
import { spawnCli } from './helpers/cli.js';

const ownedTables = ['rescope_queue', 'rescoped_content'];
const referenceTables = ['course', 'course_item', 'course_item_competency', 'class', 'class_collaborator', 'class_member', 'user_competency_status', 'school', 'pupil', 'check'];
const allNames = migrations.map((m) => m.name);

eachDialect('migrate creates every table once; a second run is a no-op', async (t, dialect) => {
  const db = await (await isolatedDatabase(t, dialect)).open();
  const first = await migrate(db);
  t.deepEqual(first, { applied: allNames, alreadyApplied: [], skipped: [] });
  for (const table of [...ownedTables, ...referenceTables]) t.true(await db.knex.schema.hasTable(table), table);
  const second = await migrate(db);
  t.deepEqual(second, { applied: [], alreadyApplied: allNames, skipped: [] });
  t.is((await db.knex(bookkeepingTable).select('name')).length, allNames.length);
});

eachDialect('--owned-only creates only the owned tables; a later full run adds the rest', async (t, dialect) => {
  const db = await (await isolatedDatabase(t, dialect)).open();
  const owned = await migrate(db, { ownedOnly: true });
  const ownedNames = migrations.filter((m) => m.group === 'owned').map((m) => m.name);
  const referenceNames = migrations.filter((m) => m.group === 'reference').map((m) => m.name);
  t.true(ownedNames.includes('0001_rescope_queue') && referenceNames.includes('0002_course_reference') && referenceNames.includes('0003_mtc_reference'));
  t.deepEqual(owned.applied, ownedNames);
  t.deepEqual(owned.skipped, referenceNames);
  for (const table of ownedTables) t.true(await db.knex.schema.hasTable(table), table);
  for (const table of referenceTables) t.false(await db.knex.schema.hasTable(table), table);
  await t.notThrowsAsync(assertMigrated(db.knex, db.display));
  const rest = await migrate(db);
  t.deepEqual(rest.applied, referenceNames);
  for (const table of referenceTables) t.true(await db.knex.schema.hasTable(table), table);
  // --owned-only again on the full schema: nothing is "left out" that is there.
  t.deepEqual(await migrate(db, { ownedOnly: true }), { applied: [], alreadyApplied: migrations.map((m) => m.name), skipped: [] });
});

// Separate processes, as in production: better-sqlite3 waits for a lock synchronously, so
// two SQLite connections in one thread would block each other rather than take turns.
eachDialect('four migrate processes at the same moment all succeed and apply each step once', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  const runs = await Promise.all([1, 2, 3, 4].map(() => spawnCli(['migrate', '--json'], { env: tdb.env })));
  for (const r of runs) t.is(r.code, 0, r.stderr);
  const applied = runs.flatMap((r) => r.json<{ applied: string[] }>().applied);
  t.deepEqual([...applied].sort(), [...allNames].sort());
  const db = await tdb.open();
  t.is((await db.knex(bookkeepingTable).select('name')).length, allNames.length);
});

postgresOnly('several pools migrating at once in one process also queue up', async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  const pools = await Promise.all([1, 2, 3, 4].map(() => tdb.open(2)));
  const results = await Promise.all(pools.map((db) => migrate(db)));
  t.deepEqual(results.flatMap((r) => r.applied).sort(), [...allNames].sort());
});

eachDialect('commands refuse an unmigrated database with the fix in the message', async (t, dialect) => {
  const db = await (await isolatedDatabase(t, dialect)).open();
  const err = await t.throwsAsync(assertMigrated(db.knex, db.display), { instanceOf: SchemaError });
  t.regex(err?.message ?? '', /the schema is not migrated in .*: run "mtc-batch migrate" first/);
  t.is(err?.exitCode, 2);
});

/** The message a promise rejects with (better-sqlite3's errors are not native errors, which ava's throwsAsync requires). */
async function failure(promise: PromiseLike<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return String((err as Error).message);
  }
  return 'did not fail';
}

eachDialect('one queue row and one content row per (user, course, class-or-none), NULL class included', async (t, dialect) => {
  const db = await (await isolatedDatabase(t, dialect)).open();
  await migrate(db, { ownedOnly: true });
  const user = '11111111-1111-4111-8111-111111111111';
  const course = '22222222-2222-4222-8222-222222222222';
  const klass = '33333333-3333-4333-8333-333333333333';
  const row = (classId: string | null) => ({ user_id: user, course_id: course, class_id: classId, source: 'oob', priority: 1 });
  await db.knex('rescope_queue').insert(row(null));
  t.regex(await failure(db.knex('rescope_queue').insert(row(null))), /unique/i);
  await db.knex('rescope_queue').insert(row(klass));
  t.regex(await failure(db.knex('rescope_queue').insert(row(klass))), /unique/i);
  const content = (classId: string | null) => ({ user_id: user, course_id: course, class_id: classId, skipped_content: '{}' });
  await db.knex('rescoped_content').insert(content(null));
  t.regex(await failure(db.knex('rescoped_content').insert(content(null))), /unique/i);
  await db.knex('rescoped_content').insert(content(klass));
  t.is((await db.knex('rescope_queue').select('id')).length, 2);
});

test('the registry is append-only in spirit: names are unique, numbered and ordered', (t) => {
  const numbers = allNames.map((n) => Number(n.slice(0, 4)));
  t.deepEqual(numbers, numbers.map((_, i) => i + 1));
  t.is(new Set(allNames).size, allNames.length);
  t.true(allNames.every((n) => /^\d{4}_[a-z_]+$/.test(n)));
});

eachDialect('each step is logged as applied, or, when it is for another database, as recorded with nothing to change', async (t, dialect) => {
  const db = await (await isolatedDatabase(t, dialect)).open();
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  await migrate(db, { log: createLogger({ format: 'json', level: 'info', stream }) });
  const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  const sqliteOnly = ['0005_owned_uuid_collation', '0006_reference_uuid_collation', '0007_mtc_uuid_collation'];
  for (const name of sqliteOnly) {
    t.true(messages.includes(dialect === 'sqlite' ? `applying ${name}` : `recording ${name}: nothing to change on ${dialect}`), `${name}: ${messages.join(' | ')}`);
  }
  t.true(messages.includes('applying 0001_rescope_queue'));
});

eachDialect('a reference table missing (--owned-only where another system owns it) is named, with the schema and database it was looked for in', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  t.is((await spawnCli(['migrate', '--owned-only'], { env: tdb.env })).code, 0);
  const r = await spawnCli(['enqueue', '--source', 'rescope', '--class', '0b7e0e1a-3c1b-4c8e-9a55-6f0a4d2b9e10', '--json'], { env: tdb.env });
  t.is(r.code, 2, r.stderr);
  const { message } = r.json<{ error: { message: string } }>().error;
  const where = tdb.config.databaseSchema ? `schema ${tdb.config.databaseSchema} of ` : '';
  t.true(message.startsWith(`table class does not exist in ${where}`), message);
  t.regex(message, /run "mtc-batch migrate"/);
});

postgresOnly("a URL's own ?options= are kept, and cannot send a job to another schema than the one it names", async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  const other = await isolatedDatabase(t, 'postgres');
  await migrate(await tdb.open());
  const url = new URL(tdb.config.databaseUrl);
  url.searchParams.set('options', `-c search_path=${other.config.databaseSchema} -c statement_timeout=4321`);
  url.searchParams.append('options', '-c application_name=mtc-options-test');
  const db = await openDatabase({ databaseUrl: url.toString(), databaseSchema: tdb.config.databaseSchema }, { requireSchema: true });
  t.teardown(() => db.close());
  const show = async (setting: string) => (await db.knex.raw(`SHOW ${setting}`)).rows[0][setting] as string;
  t.is(await show('search_path'), `"${tdb.config.databaseSchema}"`);
  t.is(await show('statement_timeout'), '4321ms', "the URL's other options still apply");
  t.is(await show('application_name'), 'mtc-options-test', 'every ?options= of the URL, not only the first');
  // From the command line: status reads the schema it names.
  const r = await spawnCli(['status', '--json'], { env: { ...tdb.env, DATABASE_URL: url.toString() } });
  t.is(r.code, 0, r.stderr);
  t.is(r.json<{ schema: string | null }>().schema, tdb.config.databaseSchema);
});

postgresOnly("a command's first statement is its own: no `select version()` round trip on a new PostgreSQL connection", async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  await migrate(await tdb.open());
  const sent: string[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    // Tests of this file run at once: only this test's schema's connections count.
    const options = (this as unknown as { connectionParameters: { options?: string } }).connectionParameters.options ?? '';
    if (text !== undefined && options.includes(`"${tdb.config.databaseSchema}"`)) sent.push(text);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  t.teardown(() => {
    pg.Client.prototype.query = query;
  });
  const db = await openDatabase(tdb.config, { requireSchema: true });
  t.teardown(() => db.close());
  t.is(sent.length, 1, sent.join('; '));
  t.regex(sent[0]!, /mtc_batch_migrations/, 'the schema check is the connection check');
  // json columns are still created as json (knex chooses text only before PostgreSQL 9.2).
  const type = await db.knex.raw("select data_type from information_schema.columns where table_schema = ? and table_name = 'rescoped_content' and column_name = 'skipped_content'", [tdb.config.databaseSchema]);
  t.is(type.rows[0].data_type, 'json');
});

postgresOnly('a search_path (from the URL) naming no schema that exists is a schema error saying what to set, not an unexpected failure', async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  const url = new URL(tdb.config.databaseUrl);
  url.searchParams.set('options', `-c search_path=${tdb.config.databaseSchema}_none`);
  const r = await spawnCli(['migrate', '--json'], { env: { DATABASE_URL: url.toString() } });
  t.is(r.code, 2, r.stderr);
  t.regex(r.json<{ error: { message: string } }>().error.message, /^no schema to work in at .*: its search_path .* names no schema that exists; set the schema \(MTC_BATCH_DATABASE_SCHEMA/);
});
