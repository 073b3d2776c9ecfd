import type { Dialect, SqlListType } from '../dialect.js';
import { errorCode, quoteBracket as b } from '../sql-text.js';

/** Column types of list elements, for the table variable of an upsert. */
const tsqlTypes: Readonly<Record<SqlListType, string>> = {
  bigint: 'bigint',
  uuid: 'uniqueidentifier',
  text: 'nvarchar(4000)',
  json: 'nvarchar(max)',
  smallint: 'smallint',
  boolean: 'bit',
};

export const mssql: Dialect = {
  name: 'mssql',
  knexClient: 'mssql',
  maxParameters: 2100,
  maxRowsPerInsert: 1000,
  nowSql: '(SYSUTCDATETIME())',
  nowPlusSecondsSql: '(DATEADD(second, CAST(? AS int), SYSUTCDATETIME()))',
  writableCte: false,
  partialClaimIndex: true,
  queueTableTuningSql: () => [],
  booleanLiteral: (value) => (value ? '1' : '0'),
  // uniqueidentifier values have no case (drivers print them upper-case; values.ts lower-cases).
  canonicalUuidSql: (expr) => expr,
  containsTextSql: (expr) => `CHARINDEX(LOWER(CAST(? AS nvarchar(4000))), LOWER(${expr})) > 0`,
  jsonType: 'nvarchar(max)',
  uuidParam: 'CAST(? AS uniqueidentifier)',
  smallintParam: 'CAST(? AS smallint)',
  stringParam: 'CAST(? AS nvarchar(64))',
  booleanParam: 'CAST(? AS bit)',
  // SQL Server's unique indexes already treat NULLs as equal. IGNORE_DUP_KEY makes an
  // insert skip duplicate rows with a warning instead of failing the whole statement:
  // the same effect as ON CONFLICT DO NOTHING elsewhere.
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${b(index)} ON ${b(table)} (${[...columns, nullable].map(b).join(', ')}) WITH (IGNORE_DUP_KEY = ON)`,
  ignoreDuplicatesClause: '',
  // UPDATE then INSERT of the rest in one batch, from a table variable so the rows are
  // bound once. HOLDLOCK (serializable range locks) keeps another writer from inserting a
  // key between the two; the caller runs it in a transaction. Not MERGE: it needs the
  // same HOLDLOCK to be safe under concurrency, and two plain statements are easier to
  // reason about.
  upsertRowsSql: (table, columns, key, replaced, stamped, rows) => {
    const names = columns.map(([name]) => b(name)).join(', ');
    const match =
      [...key.columns.map((c) => `t.${b(c)} = r.${b(c)}`), `(t.${b(key.nullable)} = r.${b(key.nullable)} OR (t.${b(key.nullable)} IS NULL AND r.${b(key.nullable)} IS NULL))`].join(' AND ');
    return (
      `DECLARE @rows TABLE (${columns.map(([name, type]) => `${b(name)} ${tsqlTypes[type]} NULL`).join(', ')}); ` +
      `INSERT INTO @rows (${names}) VALUES ${Array.from({ length: rows.count }, () => `(${columns.map(() => '?').join(', ')})`).join(', ')}; ` +
      `UPDATE t SET ${[...replaced.map((c) => `${b(c)} = r.${b(c)}`), ...stamped.map((c) => `${b(c)} = SYSUTCDATETIME()`)].join(', ')} ` +
      `FROM ${b(table)} AS t WITH (HOLDLOCK) INNER JOIN @rows AS r ON ${match}; ` +
      `INSERT INTO ${b(table)} (${names}) SELECT ${columns.map(([name]) => `r.${b(name)}`).join(', ')} FROM @rows AS r ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${b(table)} AS t WITH (UPDLOCK, HOLDLOCK) WHERE ${match});`
    );
  },
  // READPAST skips rows another claim holds; UPDLOCK keeps two claims from reading the
  // same row before either updates it; ROWLOCK avoids escalating to page locks. Needs
  // READ COMMITTED: SQL Server refuses READPAST under SNAPSHOT isolation.
  claimQueuedSql: (table) =>
    `WITH picked AS (SELECT TOP (?) ${b('id')}, ${b('priority')}, ${b('status')}, ${b('updated_at')} FROM ${b(table)} ` +
    `WITH (ROWLOCK, READPAST, UPDLOCK) WHERE ${b('status')} IS NULL AND ${b('available_at')} <= SYSUTCDATETIME() ` +
    `ORDER BY ${b('priority')}, ${b('id')}) ` +
    `UPDATE picked SET ${b('status')} = N'dispatched', ${b('updated_at')} = SYSUTCDATETIME() OUTPUT inserted.${b('id')}, inserted.${b('priority')}`,
  // A clustered key is the table itself: every column is at hand.
  coveringPrimaryKeySql: (table, name, keys) => [`ALTER TABLE ${b(table)} ADD CONSTRAINT ${b(name)} PRIMARY KEY CLUSTERED (${keys.map(b).join(', ')})`],
  affectedRowsSuffix: '; SELECT @@ROWCOUNT AS [affected_rows]',
  // STRING_AGG … WITHIN GROUP needs SQL Server 2017; NULL + text stays NULL (CONCAT_NULL_YIELDS_NULL).
  uuidJsonArraySql: (expr) =>
    `'["' + STRING_AGG(LOWER(CAST(${expr} AS nvarchar(36))), '","') WITHIN GROUP (ORDER BY LOWER(CAST(${expr} AS nvarchar(36)))) + '"]'`,
  // SQL Server before 2025 has no JSON array aggregate: STRING_ESCAPE makes each value a valid JSON
  // string, so the ',' between them cannot be confused with data. nvarchar(max) input keeps
  // STRING_AGG from stopping at 8,000 bytes.
  textJsonArraySql: (expr) => `N'[' + STRING_AGG(CAST(N'"' + STRING_ESCAPE(${expr}, 'json') + N'"' AS nvarchar(max)), N',') + N']'`,
  // sp_getapplock reports a timeout in its return value, not as an error: THROW makes
  // one, so migrate never goes on without the lock.
  migrationLockSql: () => [
    "DECLARE @lock int; EXEC @lock = sp_getapplock @Resource = N'mtc-batch:migrate', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 120000; " +
      "IF @lock < 0 THROW 51000, N'mtc-batch migrate: another migrate held the lock for 120 s; try again', 1;",
  ],
  createBookkeepingSql: (table) =>
    `IF OBJECT_ID(N'${table}', N'U') IS NULL CREATE TABLE ${b(table)} (${b('name')} nvarchar(255) NOT NULL PRIMARY KEY, ${b('applied_at')} datetime2 NOT NULL)`,
  schemas: false,
  // 1205 deadlock victim, 1222 lock request time out.
  isRetryableConflict: (err) => [1205, 1222].includes(Number(errorCode(err))),
  // 2627 unique constraint, 2601 unique index.
  isUniqueViolation: (err) => [2627, 2601].includes(Number(errorCode(err))),
};
