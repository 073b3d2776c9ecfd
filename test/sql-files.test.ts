import { readFileSync } from 'node:fs';
import test from 'ava';
import { allSchemaSql } from '../src/db/schema-sql.js';

const sqlDir = new URL('../../sql/', import.meta.url);

for (const { file, sql } of allSchemaSql()) {
  test(`sql/${file} is generated from the current migrations (run "npm run sql" after changing them)`, (t) => {
    t.is(readFileSync(new URL(file, sqlDir), 'utf8'), sql);
  });
}

test('the SQL Server DDL quotes the reserved table name, uses bit flags and a NULL-safe unique index', (t) => {
  const mssql = allSchemaSql().find((f) => f.file === 'mssql.sql')?.sql ?? '';
  t.regex(mssql, /CREATE TABLE \[check\]/);
  t.regex(mssql, /\[processingFailed\] bit not null/);
  t.regex(mssql, /CREATE UNIQUE INDEX \[rescope_queue_learner_uq\] ON \[rescope_queue\] \(\[user_id\], \[course_id\], \[class_id\]\) WITH \(IGNORE_DUP_KEY = ON\)/);
  t.regex(mssql, /^IF OBJECT_ID\(N'mtc_batch_migrations', N'U'\) IS NULL CREATE TABLE/m);
  // Every statement ends a batch, as sqlcmd and SSMS expect.
  const statements = mssql.split('\n').filter((line) => line.endsWith(';') && !line.startsWith('--'));
  t.is(mssql.split(';\nGO\n').length - 1, statements.length);
  t.true(statements.length > 20);
});
