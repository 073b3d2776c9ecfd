import test from 'ava';
import { parseDatabaseUrl } from '../src/db/database-url.js';
import { chunksFor, dialects, insertRowsPerStatement, rowsPerStatement } from '../src/db/dialect.js';
import { ConfigError } from '../src/errors.js';

test('sqlite: paths resolve against the working directory', (t) => {
  const target = parseDatabaseUrl('sqlite:./data/x.sqlite', '/srv/app');
  t.is(target.dialect.name, 'sqlite');
  t.is(target.file, '/srv/app/data/x.sqlite');
  t.is(parseDatabaseUrl('sqlite:///abs/y.sqlite').file, '/abs/y.sqlite');
  t.is(parseDatabaseUrl('sqlite::memory:').file, ':memory:');
  t.throws(() => parseDatabaseUrl('sqlite:'), { instanceOf: ConfigError });
});

test('postgres URLs pass through, with the password masked for display', (t) => {
  const target = parseDatabaseUrl('postgresql://app:pw@db.internal:5433/mtc');
  t.is(target.dialect.name, 'postgres');
  t.is(target.display, 'postgresql://app:***@db.internal:5433/mtc');
  t.is((target.connection as { connectionString: string }).connectionString, 'postgresql://app:pw@db.internal:5433/mtc');
});

test('a postgres URL without a user connects as PGUSER, else USER, else the login, as psql does', (t) => {
  const connectionString = (url: string, env: NodeJS.ProcessEnv) => (parseDatabaseUrl(url, '/', env).connection as { connectionString: string }).connectionString;
  t.is(connectionString('postgres://127.0.0.1:5432/test', { PGUSER: 'batch', USER: 'me' }), 'postgres://127.0.0.1:5432/test?user=batch');
  t.is(connectionString('postgres://127.0.0.1:5432/test', { USER: 'me' }), 'postgres://127.0.0.1:5432/test?user=me');
  // Containers and cron often set no USER: the login's own name, never an empty one.
  t.regex(connectionString('postgres://db.internal/mtc?sslmode=require', {}), /^postgres:\/\/db\.internal\/mtc\?sslmode=require&user=[^&=]+$/);
  // A socket (no host in the URL), and an empty ?user=, which psql also reads as none.
  t.regex(connectionString('postgres:///mtc?host=/var/run/postgresql', {}), /^postgres:\/\/\/mtc\?host=%2Fvar%2Frun%2Fpostgresql&user=[^&=]+$/);
  t.is(connectionString('postgres://db/mtc?user=', { USER: 'me' }), 'postgres://db/mtc?user=me');
  // A user in the URL or in its query is left as given.
  t.is(connectionString('postgres://app@db/mtc', { USER: 'me' }), 'postgres://app@db/mtc');
  t.is(connectionString('postgres://db/mtc?user=app', { USER: 'me' }), 'postgres://db/mtc?user=app');
  t.is(parseDatabaseUrl('postgres://db/mtc', '/', { USER: 'me' }).display, 'postgres://db/mtc', 'messages show the URL as given');
});

test('mssql URLs become tedious settings under READ COMMITTED', (t) => {
  const target = parseDatabaseUrl('mssql://sa:p%40ss@sql.example:14330/mtc?trustServerCertificate=true');
  t.is(target.dialect.name, 'mssql');
  t.like(target.connection, { server: 'sql.example', port: 14330, user: 'sa', password: 'p@ss', database: 'mtc' });
  t.like((target.connection as { options: object }).options, { encrypt: true, trustServerCertificate: true, isolationLevel: 2, connectionIsolationLevel: 2 });
  t.is(target.display, 'mssql://sa:***@sql.example:14330/mtc?trustServerCertificate=true');
  t.throws(() => parseDatabaseUrl('mssql://sa:x@host'), { message: /needs a host and a database/ });
});

test('rows per statement follow the parameter limit and the column count', (t) => {
  t.is(rowsPerStatement(dialects.mssql, 6), 350);
  t.is(rowsPerStatement(dialects.mssql, 7), 300);
  t.is(rowsPerStatement(dialects.mssql, 7, 2), 299);
  t.is(rowsPerStatement(dialects.postgres, 7), 9362);
  t.throws(() => rowsPerStatement(dialects.mssql, 0), { instanceOf: RangeError });
  t.throws(() => rowsPerStatement(dialects.mssql, 2101), { instanceOf: RangeError });
});

test('multi-row inserts also respect the row limits: 1,000 row values on SQL Server, 500 compound terms on SQLite', (t) => {
  t.is(insertRowsPerStatement(dialects.mssql, 5), 420);
  t.is(insertRowsPerStatement(dialects.mssql, 1), 1000);
  t.is(insertRowsPerStatement(dialects.sqlite, 5), 500);
  t.is(insertRowsPerStatement(dialects.postgres, 5), 13107);
});

test('id lists are cut to fit the parameter limit, keeping room for the other parameters', (t) => {
  const ids = Array.from({ length: 5000 }, (_, i) => i);
  const chunks = chunksFor(dialects.mssql, ids, 1, 16);
  t.deepEqual(chunks.map((c) => c.length), [2084, 2084, 832]);
  t.deepEqual(chunks.flat(), ids);
});
