import type { Dialect } from '../dialect.js';
import { sqliteReadRows } from './direct-read.js';
import { errorCode, quoteDouble as q } from '../sql-text.js';

const now = "(CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER))";

function bookkeeping(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('name')} varchar(255) NOT NULL PRIMARY KEY, ${q('applied_at')} datetime NOT NULL)`;
}

export const sqlite: Dialect = {
  name: 'sqlite',
  knexClient: 'better-sqlite3',
  // SQLITE_MAX_VARIABLE_NUMBER is 32,766 since SQLite 3.32.
  maxParameters: 32766,
  maxRowsPerInsert: 500,
  nowSql: now,
  nowPlusSecondsSql: `(${now} + CAST(? AS INTEGER) * 1000)`,
  writableCte: false,
  partialClaimIndex: true,
  queueTableTuningSql: () => [],
  readRows: sqliteReadRows,
  booleanLiteral: (value) => (value ? '1' : '0'),
  uuidTextCollation: 'NOCASE',
  canonicalUuidSql: (expr) => `lower(${expr})`,
  containsTextSql: (expr) => `instr(lower(${expr}), lower(?)) > 0`,
  jsonType: 'text',
  uuidParam: '?',
  smallintParam: '?',
  stringParam: '?',
  booleanParam: '?',
  uniqueWithNullIndexSql: (table, index, columns, nullable) =>
    `CREATE UNIQUE INDEX ${q(index)} ON ${q(table)} (${[...columns.map(q), `COALESCE(${q(nullable)}, '')`].join(', ')})`,
  ignoreDuplicatesClause: 'ON CONFLICT DO NOTHING',
  upsertRowsSql: (table, columns, key, replaced, stamped, rows) =>
    `INSERT INTO ${q(table)} (${columns.map(([name]) => q(name)).join(', ')}) VALUES ` +
    Array.from({ length: rows.count }, () => `(${columns.map(() => '?').join(', ')})`).join(', ') +
    ` ON CONFLICT (${[...key.columns.map(q), `COALESCE(${q(key.nullable)}, '')`].join(', ')}) ` +
    `DO UPDATE SET ${[...replaced.map((c) => `${q(c)} = excluded.${q(c)}`), ...stamped.map((c) => `${q(c)} = ${now}`)].join(', ')}`,
  // One writer at a time: the subquery and the update run under the same write lock.
  claimQueuedSql: (table) =>
    `UPDATE ${q(table)} SET ${q('status')} = 'dispatched', ${q('updated_at')} = ${now} ` +
    `WHERE ${q('id')} IN (SELECT ${q('id')} FROM ${q(table)} WHERE ${q('status')} IS NULL AND ${q('available_at')} <= ${now} ` +
    `ORDER BY ${q('priority')}, ${q('id')} LIMIT ?) RETURNING ${q('id')}, ${q('priority')}`,
  // SQLite has no lock statement: a write as the first statement of the transaction
  // takes the single write lock (waiting up to busy_timeout) before anything is read.
  // SQLite cannot add a primary key to an existing table: a unique index on the key keeps
  // the rule (it does not carry the other columns; the embedded database is small).
  coveringPrimaryKeySql: (table, name, keys) => [`CREATE UNIQUE INDEX ${q(name)} ON ${q(table)} (${keys.map(q).join(', ')})`],
  affectedRowsSuffix: '',
  // ORDER BY inside an aggregate needs SQLite 3.44 (better-sqlite3 bundles a newer one).
  uuidJsonArraySql: (expr) => `'["' || group_concat(lower(${expr}), '","' ORDER BY lower(${expr})) || '"]'`,
  textJsonArraySql: (expr) => `json_group_array(${expr})`,
  migrationLockSql: (table) => [bookkeeping(table), `UPDATE ${q(table)} SET ${q('name')} = ${q('name')} WHERE 1 = 0`],
  createBookkeepingSql: bookkeeping,
  schemas: false,
  isRetryableConflict: (err) => /^SQLITE_BUSY/.test(String(errorCode(err) ?? '')),
  isUniqueViolation: (err) => /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(String(errorCode(err) ?? '')),
};
