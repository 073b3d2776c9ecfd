import type { Dialect, SqlListType } from '../dialect.js';
import { pgReadRows } from './direct-read.js';
import { errorCode, quoteDouble as q } from '../sql-text.js';
import { cancelRunningStatements } from './pg-cancel.js';
import { pgRowStream } from './pg-row-stream.js';

const nilUuid = '00000000-0000-0000-0000-000000000000';

/**
 * SELECT of rows bound one array per column; `json` columns as line-separated text when
 * `jsonAsLines` (string_to_table splits it without an array literal's quoting and escapes).
 */
function arrayRows(columns: ReadonlyArray<readonly [string, SqlListType]>, jsonAsLines: boolean): string {
  const sources = columns.map(([, type]) => (type === 'json' && jsonAsLines ? 'string_to_table(?, chr(10))' : `unnest(CAST(? AS ${type === 'json' ? 'text' : type}[]))`));
  return (
    `SELECT ${columns.map(([name, type]) => (type === 'json' ? `CAST(r.${q(name)} AS json)` : `r.${q(name)}`)).join(', ')} ` +
    `FROM ROWS FROM (${sources.join(', ')}) AS r(${columns.map(([name]) => q(name)).join(', ')})`
  );
}

function insertSelect(table: string, columns: ReadonlyArray<readonly [string, SqlListType]>, jsonAsLines: boolean): string {
  return `INSERT INTO ${q(table)} (${columns.map(([name]) => q(name)).join(', ')}) ${arrayRows(columns, jsonAsLines)}`;
}

export const postgres: Dialect = {
  name: 'postgres',
  knexClient: 'pg',
  maxParameters: 65535,
  maxRowsPerInsert: Number.MAX_SAFE_INTEGER,
  nowSql: '(CURRENT_TIMESTAMP)',
  nowPlusSecondsSql: "(CURRENT_TIMESTAMP + CAST(? AS integer) * INTERVAL '1 second')",
  listConditionSql: (type) => `?? = ANY(CAST(? AS ${type}[]))`,
  arrayRowsInsertSql: insertSelect,
  writableCte: true,
  // The conflict target repeats the unique index's expression, so PostgreSQL infers that index.
  upsertRowsSql: (table, columns, key, replaced, stamped, rows) =>
    `${insertSelect(table, columns, rows.jsonAsLines)} ON CONFLICT (${[...key.columns.map(q), `(COALESCE(${q(key.nullable)}, '${nilUuid}'::uuid))`].join(', ')}) ` +
    `DO UPDATE SET ${[...replaced.map((c) => `${q(c)} = EXCLUDED.${q(c)}`), ...stamped.map((c) => `${q(c)} = CURRENT_TIMESTAMP`)].join(', ')}`,
  coveringPrimaryKeySql: (table, name, keys, include) => [
    `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(name)} PRIMARY KEY (${keys.map(q).join(', ')}) INCLUDE (${include.map(q).join(', ')})`,
  ],
  partialClaimIndex: false,
  queueTableTuningSql: (table) => [
    // Half-empty pages leave room for the new row versions of dispatch and process on
    // the same page (HOT updates); the vacuum settings keep up with a table whose rows
    // are all deleted within minutes.
    `ALTER TABLE ${q(table)} SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0)`,
  ],
  streamRows: pgRowStream,
  cancelRunningStatements,
  readRows: pgReadRows,
  booleanLiteral: (value) => (value ? 'true' : 'false'),
  // uuid values have no case: PostgreSQL prints them lower-case.
  canonicalUuidSql: (expr) => expr,
  containsTextSql: (expr) => `strpos(lower(${expr}), lower(CAST(? AS text))) > 0`,
  jsonType: 'json',
  uuidParam: 'CAST(? AS uuid)',
  smallintParam: 'CAST(? AS smallint)',
  stringParam: 'CAST(? AS varchar)',
  booleanParam: 'CAST(? AS boolean)',
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${q(index)} ON ${q(table)} (${[...columns.map(q), `(COALESCE(${q(nullable)}, '${nilUuid}'::uuid))`].join(', ')})`,
  ignoreDuplicatesClause: 'ON CONFLICT DO NOTHING',
  // SKIP LOCKED: concurrent dispatchers each take different rows instead of waiting. The
  // claim index supplies the order; the update is driven by an id array so it goes
  // through the primary key instead of hashing the whole table against the picks.
  claimQueuedSql: (table) =>
    `UPDATE ${q(table)} SET ${q('status')} = 'dispatched', ${q('updated_at')} = CURRENT_TIMESTAMP ` +
    `WHERE ${q('id')} = ANY(ARRAY(SELECT ${q('id')} FROM ${q(table)} WHERE ${q('status')} IS NULL AND ${q('available_at')} <= CURRENT_TIMESTAMP ` +
    `ORDER BY ${q('priority')}, ${q('id')} LIMIT ? FOR UPDATE SKIP LOCKED)) RETURNING ${q('id')}, ${q('priority')}`,
  // A transaction-scoped advisory lock: released by COMMIT or by the session dying.
  affectedRowsSuffix: '',
  uuidJsonArraySql: (expr) => `'["' || string_agg(CAST(${expr} AS text), '","' ORDER BY ${expr}) || '"]'`,
  // As text: node-pg would otherwise parse json itself, and the caller parses once.
  textJsonArraySql: (expr) => `CAST(json_agg(CAST(${expr} AS text)) AS text)`,
  textLinesSql: (expr) => `string_agg(CAST(${expr} AS text), E'\\n')`,
  migrationLockSql: () => ["SELECT pg_advisory_xact_lock(hashtext('mtc-batch:migrate'))"],
  createBookkeepingSql: (table) =>
    `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('name')} varchar(255) NOT NULL PRIMARY KEY, ${q('applied_at')} timestamptz NOT NULL)`,
  schemas: true,
  // serialization_failure, deadlock_detected, lock_not_available
  isRetryableConflict: (err) => ['40001', '40P01', '55P03'].includes(String(errorCode(err) ?? '')),
  // unique_violation
  isUniqueViolation: (err) => String(errorCode(err) ?? '') === '23505',
};
