import test from 'ava';
import { parseDatabaseUrl } from '../src/db/database-url.js';
import { rowsPerStatement, dialects } from '../src/db/dialect.js';
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

test('mssql URLs become tedious settings under READ COMMITTED', (t) => {
  const target = parseDatabaseUrl('mssql://sa:p%40ss@sql.example:14330/mtc?trustServerCertificate=true');
  t.is(target.dialect.name, 'mssql');
  t.like(target.connection, { server: 'sql.example', port: 14330, user: 'sa', password: 'p@ss', database: 'mtc' });
  t.like((target.connection as { options: object }).options, { encrypt: true, trustServerCertificate: true, isolationLevel: 2 });
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
