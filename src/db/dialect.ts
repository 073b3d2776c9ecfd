/**
 * What differs between the three databases, in one interface (pg-boss keeps its backend
 * capabilities the same way). Job code asks for a capability and never branches on a
 * database's name. Each dialect's values live in dialects/<name>.ts.
 */
import type { Knex } from 'knex';
export { errorCode, quoteBracket, quoteDouble } from './sql-text.js';
import { mssql } from './dialects/mssql.js';
import { postgres } from './dialects/postgres.js';
import { sqlite } from './dialects/sqlite.js';

export type DialectName = 'sqlite' | 'postgres' | 'mssql';

/** Element types of list parameters. */
export type SqlListType = 'bigint' | 'uuid' | 'text' | 'json' | 'smallint' | 'boolean';

export interface Dialect {
  readonly name: DialectName;
  /** knex client module. */
  readonly knexClient: 'better-sqlite3' | 'pg' | 'mssql';
  /** Most bind parameters one statement may carry (SQL Server: 2,100 per request). */
  readonly maxParameters: number;
  /**
   * Most rows one multi-row INSERT may carry: SQL Server allows 1,000 row values; knex
   * writes SQLite's as a compound SELECT, which SQLite caps at 500 terms.
   */
  readonly maxRowsPerInsert: number;
  /**
   * The current time as the database stores timestamps, parenthesised so it can be a
   * column default too. SQLite has no timestamp type: it keeps Unix milliseconds, the
   * same value knex writes for a JavaScript Date.
   */
  readonly nowSql: string;
  /** The current time plus a number of seconds given as the one `?` binding (negative: the past). */
  readonly nowPlusSecondsSql: string;
  /**
   * "column is one of these values" bound as ONE array parameter (SQL with `??` for the
   * column and `?` for the array), or undefined where lists are bound value by value.
   * One parameter instead of a thousand: less to build, send and parse per statement.
   */
  listConditionSql?: (elementType: SqlListType) => string;
  /**
   * INSERT … SELECT of many rows bound as ONE parameter per column (an array of the column's
   * type), or undefined where rows are inserted as multi-row VALUES. With `jsonAsLines`,
   * each `json` column is instead one text holding the values separated by line feeds
   * (JSON texts that hold none, as JSON.stringify writes them), split by the database
   * without an array's quoting. No conflict clause: the caller appends one.
   * A few arrays are cheaper to build, send and parse than a JSON document of row
   * objects or thousands of bound values: measured, about half the database CPU of
   * json_to_recordset for content documents.
   */
  arrayRowsInsertSql?: (table: string, columns: ReadonlyArray<readonly [string, SqlListType]>, jsonAsLines: boolean) => string;
  /**
   * Whether a statement may hold INSERT, UPDATE and DELETE … RETURNING in its WITH
   * clause (PostgreSQL): several changes then run as one atomic statement, one round
   * trip and no transaction around them.
   */
  readonly writableCte: boolean;
  /**
   * One statement (on SQL Server one batch) that stores rows of `columns` and, for each
   * row whose key (the unique index uniqueWithNullIndexSql made over `key.columns` and
   * `key.nullable`) already exists, replaces the `replaced` columns in place and sets the
   * `stamped` columns to now: the row is never absent for a reader. Its bindings: where
   * arrayRowsInsertSql exists, those of arrayRowsInsertSql (one per column); elsewhere `rows.count`
   * rows of values in `columns` order. Rows must have distinct keys.
   */
  upsertRowsSql(
    table: string,
    columns: ReadonlyArray<readonly [string, SqlListType]>,
    key: { columns: readonly string[]; nullable: string },
    replaced: readonly string[],
    stamped: readonly string[],
    rows: { count: number; jsonAsLines: boolean },
  ): string;
  /**
   * Statements adding a primary key that also carries `include` columns, so lookups by
   * the key are answered from the index alone.
   */
  coveringPrimaryKeySql(table: string, name: string, keys: readonly string[], include: readonly string[]): string[];
  /**
   * Whether the queue's claim index is partial (queued rows only). PostgreSQL's is not:
   * any index that mentions `status` makes every state change write new index entries,
   * while without one the changes are HOT updates that touch no index at all.
   */
  readonly partialClaimIndex: boolean;
  /** Storage settings for a high-churn queue table, run after it is created. */
  queueTableTuningSql(table: string): string[];
  /**
   * Streams a read-only query's rows without a cursor, where the driver allows it;
   * undefined where knex's stream is used instead. Yields the rows in batches: those that
   * arrived since the consumer last asked (one wait per network read, not per row).
   */
  streamRows?: (knex: Knex, sql: string, bindings: readonly unknown[], signal?: AbortSignal) => AsyncIterable<Array<Record<string, unknown>>>;
  /**
   * Asks the server to cancel the statements running on every connection the pool has lent
   * out, and retires those connections; returns how many were asked. Undefined where the
   * toolkit cannot cancel (SQLite runs in the process; SQL Server is not verified live).
   */
  cancelRunningStatements?: (knex: Knex) => number;
  /**
   * Runs one short read-only statement (`?` placeholders, no `??`) straight through the
   * driver on a pooled connection; undefined where knex's raw query is used instead. For
   * the hot path of serve's Fetch.
   */
  readRows?: (knex: Knex, sql: string, bindings: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;
  /** A boolean constant as DDL writes it (index predicates cannot take bindings). */
  booleanLiteral(value: boolean): string;
  /**
   * Where UUIDs are plain text compared byte by byte (SQLite), the collation that makes
   * them compare case-insensitively, so an id the surrounding systems stored upper-case
   * matches the same id in lower case; undefined where the database has a UUID type.
   */
  readonly uuidTextCollation?: string;
  /** A UUID `expr` read from a reference table in the lower-case form our own tables hold. */
  canonicalUuidSql(expr: string): string;
  /**
   * True when the text `expr` (SQL without bindings, e.g. a quoted column) contains the one
   * `?` binding, ignoring case (SQLite: ASCII letters only). No LIKE: its wildcards (and
   * SQL Server's `[`) in the text would need escaping.
   */
  containsTextSql(expr: string): string;
  /** Column type for JSON documents stored as text. */
  readonly jsonType: string;
  /** `?` as a UUID value where the database cannot infer the type (e.g. in a SELECT list). */
  readonly uuidParam: string;
  /** `?` as a small integer value where the database cannot infer the type. */
  readonly smallintParam: string;
  /** `?` as a short string value where the database cannot infer the type. */
  readonly stringParam: string;
  /** `?` as a boolean (flag) value where the database cannot infer the type. */
  readonly booleanParam: string;
  /**
   * Unique index treating NULL in `nullableUuid` as one value, so "one row per
   * (user, course, class-or-none)" holds for independent learning too.
   */
  uniqueWithNullIndexSql(table: string, index: string, columns: string[], nullableUuid: string): string;
  /**
   * How an insert skips rows that would break a unique index: a clause appended to the
   * INSERT, or nothing when the index itself ignores duplicates.
   */
  readonly ignoreDuplicatesClause: string;
  /**
   * One statement that moves up to `?` due, queued rows of `table` to 'dispatched',
   * highest priority (lowest number) and oldest first, and returns their id and priority.
   * Safe with many dispatchers at once: rows locked by another claim are skipped.
   */
  claimQueuedSql(table: string): string;
  /**
   * Appended to a statement whose affected-row count is wanted, when the driver does not
   * report it (tedious through knex returns rows only).
   */
  readonly affectedRowsSuffix: string;
  /**
   * Aggregate of the UUIDs `expr` yields over a group (NULLs skipped) as JSON array text,
   * lower-cased and sorted, e.g. `["0b…","5f…"]`; NULL when there is none. UUID text
   * needs no JSON escaping, so the database can write it.
   */
  uuidJsonArraySql(expr: string): string;
  /**
   * Aggregate of the text values `expr` yields over a group as JSON array text, each value
   * a JSON string (every character escaped, the empty string kept), in no particular
   * order. A real list: a delimiter, whatever it is, is a character some value can hold.
   */
  textJsonArraySql(expr: string): string;
  /**
   * Aggregate of the text values `expr` yields over a group, joined by line feeds, in no
   * particular order; undefined where the dialect has none. Cheaper than
   * textJsonArraySql (no escaping, no JSON to parse), but only a list when no value can
   * hold a line feed: for callers that know every value the group can yield (e.g. an
   * equality filter on a list they bound) and have checked them.
   */
  textLinesSql?: (expr: string) => string;
  /** SQL run first inside the migration transaction so two `migrate` runs queue up. */
  migrationLockSql(bookkeepingTable: string): string[];
  /** Creates the bookkeeping table unless it exists. */
  createBookkeepingSql(table: string): string;
  /** Whether the database has schemas that `databaseSchema` can select. */
  readonly schemas: boolean;
  /** True for errors a retry of the whole transaction can cure (busy, deadlock, serialisation). */
  isRetryableConflict(err: unknown): boolean;
  /** True for an insert that broke a unique index (another writer stored the same key first). */
  isUniqueViolation(err: unknown): boolean;
}

export const dialects: Readonly<Record<DialectName, Dialect>> = Object.freeze({ sqlite, postgres, mssql });

/** The largest number of rows of `columns` bound values that fit one statement, keeping `reserved` for the rest. */
export function rowsPerStatement(dialect: Dialect, columns: number, reserved = 0): number {
  if (columns < 1) throw new RangeError('a row needs at least one column');
  const rows = Math.floor((dialect.maxParameters - reserved) / columns);
  if (rows < 1) throw new RangeError(`${columns} columns do not fit ${dialect.name}'s ${dialect.maxParameters} parameters`);
  return rows;
}

/** Rows of `columns` values that one multi-row INSERT may carry on this dialect. */
export function insertRowsPerStatement(dialect: Dialect, columns: number): number {
  return Math.min(rowsPerStatement(dialect, columns), dialect.maxRowsPerInsert);
}

/** `values` cut into pieces that each fit one statement with `perRow` parameters a value. */
export function chunksFor<T>(dialect: Dialect, values: readonly T[], perRow = 1, reserved = 0): T[][] {
  const size = rowsPerStatement(dialect, perRow, reserved);
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}
