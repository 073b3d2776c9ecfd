/**
 * What differs between the three databases, in one table (pg-boss keeps its backend
 * capabilities the same way). Job code asks for a capability and never branches on a
 * database's name.
 */

export type DialectName = 'sqlite' | 'postgres' | 'mssql';

export interface Dialect {
  readonly name: DialectName;
  /** knex client module. */
  readonly knexClient: 'better-sqlite3' | 'pg' | 'mssql';
  /** Most bind parameters one statement may carry (SQL Server: 2,100 per request). */
  readonly maxParameters: number;
  /**
   * The current time as the database stores timestamps, parenthesised so it can be a
   * column default too. SQLite has no timestamp type: it keeps Unix milliseconds, the
   * same value knex writes for a JavaScript Date.
   */
  readonly nowSql: string;
  /** Column type for JSON documents stored as text. */
  readonly jsonType: string;
  /**
   * Unique index treating NULL in `nullableUuid` as one value, so "one row per
   * (user, course, class-or-none)" holds for independent learning too.
   */
  uniqueWithNullIndexSql(table: string, index: string, columns: string[], nullableUuid: string): string;
  /** How an insert skips rows that would break a unique index. */
  readonly duplicateInsert: 'on-conflict-do-nothing' | 'ignore-dup-key-index';
  /** SQL run first inside the migration transaction so two `migrate` runs queue up. */
  migrationLockSql(bookkeepingTable: string): string[];
  /** Creates the bookkeeping table unless it exists. */
  createBookkeepingSql(table: string): string;
  /** Whether the database has schemas that `databaseSchema` can select. */
  readonly schemas: boolean;
  /** True for errors a retry of the whole transaction can cure (busy, deadlock, serialisation). */
  isRetryableConflict(err: unknown): boolean;
}

function errorCode(err: unknown): string | number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; number?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.number === 'number') return e.number;
  }
  return undefined;
}

const nilUuid = '00000000-0000-0000-0000-000000000000';

function sqliteBookkeeping(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('name')} varchar(255) NOT NULL PRIMARY KEY, ${q('applied_at')} datetime NOT NULL)`;
}

const sqlite: Dialect = {
  name: 'sqlite',
  knexClient: 'better-sqlite3',
  // SQLITE_MAX_VARIABLE_NUMBER is 32,766 since SQLite 3.32.
  maxParameters: 32766,
  nowSql: "(CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER))",
  jsonType: 'text',
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${q(index)} ON ${q(table)} (${[...columns.map(q), `COALESCE(${q(nullable)}, '')`].join(', ')})`,
  duplicateInsert: 'on-conflict-do-nothing',
  // SQLite has no lock statement: a write as the first statement of the transaction
  // takes the single write lock (waiting up to busy_timeout) before anything is read.
  migrationLockSql: (table) => [sqliteBookkeeping(table), `UPDATE ${q(table)} SET ${q('name')} = ${q('name')} WHERE 1 = 0`],
  createBookkeepingSql: sqliteBookkeeping,
  schemas: false,
  isRetryableConflict: (err) => /^SQLITE_BUSY/.test(String(errorCode(err) ?? '')),
};

const postgres: Dialect = {
  name: 'postgres',
  knexClient: 'pg',
  maxParameters: 65535,
  nowSql: '(CURRENT_TIMESTAMP)',
  jsonType: 'json',
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${q(index)} ON ${q(table)} (${[...columns.map(q), `(COALESCE(${q(nullable)}, '${nilUuid}'::uuid))`].join(', ')})`,
  duplicateInsert: 'on-conflict-do-nothing',
  // A transaction-scoped advisory lock: released by COMMIT or by the session dying.
  migrationLockSql: () => ["SELECT pg_advisory_xact_lock(hashtext('mtc-batch:migrate'))"],
  createBookkeepingSql: (table) =>
    `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('name')} varchar(255) NOT NULL PRIMARY KEY, ${q('applied_at')} timestamptz NOT NULL)`,
  schemas: true,
  isRetryableConflict: (err) => ['40001', '40P01', '55P03'].includes(String(errorCode(err) ?? '')),
};

const mssql: Dialect = {
  name: 'mssql',
  knexClient: 'mssql',
  maxParameters: 2100,
  nowSql: '(SYSUTCDATETIME())',
  jsonType: 'nvarchar(max)',
  // SQL Server's unique indexes already treat NULLs as equal. IGNORE_DUP_KEY makes an
  // insert skip duplicate rows with a warning instead of failing the whole statement:
  // the same effect as ON CONFLICT DO NOTHING elsewhere.
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${b(index)} ON ${b(table)} (${[...columns, nullable].map(b).join(', ')}) WITH (IGNORE_DUP_KEY = ON)`,
  duplicateInsert: 'ignore-dup-key-index',
  migrationLockSql: () => [
    "EXEC sp_getapplock @Resource = N'mtc-batch:migrate', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 120000",
  ],
  createBookkeepingSql: (table) =>
    `IF OBJECT_ID(N'${table}', N'U') IS NULL CREATE TABLE ${b(table)} (${b('name')} nvarchar(255) NOT NULL PRIMARY KEY, ${b('applied_at')} datetime2 NOT NULL)`,
  schemas: false,
  // 1205 deadlock victim, 1222 lock request time out.
  isRetryableConflict: (err) => [1205, 1222].includes(Number(errorCode(err))),
};

function q(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function b(identifier: string): string {
  return `[${identifier.replace(/]/g, ']]')}]`;
}

export const dialects: Readonly<Record<DialectName, Dialect>> = Object.freeze({ sqlite, postgres, mssql });

/** The largest number of rows of `columns` bound values that fit one statement, keeping `reserved` for the rest. */
export function rowsPerStatement(dialect: Dialect, columns: number, reserved = 0): number {
  if (columns < 1) throw new RangeError('a row needs at least one column');
  const rows = Math.floor((dialect.maxParameters - reserved) / columns);
  if (rows < 1) throw new RangeError(`${columns} columns do not fit ${dialect.name}'s ${dialect.maxParameters} parameters`);
  return rows;
}
