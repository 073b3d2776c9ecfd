/**
 * Lists of values in statements, the fastest way each dialect allows: PostgreSQL binds a
 * whole list as one array parameter; the others bind value by value, in chunks that fit
 * their parameter limit (SQL Server: 2,100) and row limit per INSERT.
 */
import type { Knex } from 'knex';
import { type Dialect, type SqlListType, chunksFor, insertRowsPerStatement } from './dialect.js';
import { type Statement, execute, statementOf } from './execute.js';

/** `values` in as few pieces as the dialect allows for a list condition. */
export function listChunks<T>(dialect: Dialect, values: readonly T[], reservedParameters = 16): T[][] {
  if (values.length === 0) return [];
  return dialect.listConditionSql ? [[...values]] : chunksFor(dialect, values, 1, reservedParameters);
}

/** Adds "column is one of values" to `q`. Pass at most one chunk from listChunks. */
export function whereInList<Q extends Knex.QueryBuilder>(q: Q, dialect: Dialect, column: string, values: readonly unknown[], type: SqlListType): Q {
  if (dialect.listConditionSql) return q.whereRaw(dialect.listConditionSql(type), [column, values as unknown as Knex.Value]) as Q;
  return q.whereIn(column, values as readonly string[]) as Q;
}

export interface InsertOptions {
  /** Skip rows that would break a unique index (ON CONFLICT DO NOTHING / IGNORE_DUP_KEY). */
  ignoreDuplicates?: boolean;
}

type Columns = ReadonlyArray<readonly [string, SqlListType]>;

/**
 * The statements that insert `rows` (values in `columns` order; a `json` column takes
 * JSON text): one where the dialect binds rows as arrays, else chunks of multi-row VALUES.
 * With ignoreDuplicates, rows that would break a unique index are skipped.
 */
export function insertRowsStatements(k: Knex, dialect: Dialect, table: string, columns: Columns, rows: ReadonlyArray<readonly unknown[]>, options: InsertOptions = {}): Statement[] {
  if (rows.length === 0) return [];
  const ignore = options.ignoreDuplicates === true;
  if (dialect.arrayRowsInsertSql) {
    const bound = arrayBindings(columns, rows);
    const sql = dialect.arrayRowsInsertSql(table, columns, bound.jsonAsLines);
    return [{ sql: ignore ? `${sql} ${dialect.ignoreDuplicatesClause}` : sql, bindings: bound.bindings }];
  }
  const statements: Statement[] = [];
  const perStatement = insertRowsPerStatement(dialect, columns.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const objects = rows.slice(i, i + perStatement).map((r) => Object.fromEntries(columns.map(([name], c) => [name, r[c]])));
    const builder = k(table).insert(objects);
    // SQL Server has no ON CONFLICT: its unique index ignores duplicate keys itself.
    statements.push(statementOf(ignore && dialect.ignoreDuplicatesClause ? builder.onConflict().ignore() : builder));
  }
  return statements;
}

/**
 * Inserts `rows` (values in `columns` order; a `json` column takes JSON text). Returns
 * how many rows were inserted, which with ignoreDuplicates excludes the skipped ones.
 */
export async function insertRows(k: Knex, dialect: Dialect, table: string, columns: Columns, rows: ReadonlyArray<readonly unknown[]>, options: InsertOptions = {}): Promise<number> {
  const statements = insertRowsStatements(k, dialect, table, columns, rows, options);
  const run = async (q: Knex) => {
    let inserted = 0;
    for (const statement of statements) inserted += (await execute(q, dialect, statement, { countAffected: true })).affected;
    return inserted;
  };
  // Rows split over several statements (SQLite's and SQL Server's parameter limits) land
  // together: a process killed half-way leaves none of them, not the first chunks.
  return statements.length > 1 && !k.isTransaction ? k.transaction((trx) => run(trx)) : run(k);
}

/**
 * The statements that store `rows` and replace the `replaced` columns (and stamp the
 * `stamped` ones with now) of rows whose key exists already, each in one statement
 * (dialect.upsertRowsSql): a reader sees the old row or the new one, never none. Keys
 * must be distinct. Run them in a transaction (or one statement, see execute.ts) when
 * they are more than one and must land together.
 */
export function upsertRowsStatements(
  dialect: Dialect,
  table: string,
  columns: Columns,
  key: { columns: readonly string[]; nullable: string },
  change: { replaced: readonly string[]; stamped: readonly string[] },
  rows: ReadonlyArray<readonly unknown[]>,
): Statement[] {
  if (rows.length === 0) return [];
  if (dialect.arrayRowsInsertSql) {
    const bound = arrayBindings(columns, rows);
    const sql = dialect.upsertRowsSql(table, columns, key, change.replaced, change.stamped, { count: rows.length, jsonAsLines: bound.jsonAsLines });
    return [{ sql, bindings: bound.bindings }];
  }
  const statements: Statement[] = [];
  const perStatement = insertRowsPerStatement(dialect, columns.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    statements.push({ sql: dialect.upsertRowsSql(table, columns, key, change.replaced, change.stamped, { count: chunk.length, jsonAsLines: false }), bindings: chunk.flat() });
  }
  return statements;
}

/** Runs upsertRowsStatements; returns how many rows were stored (inserted or replaced). */
export async function upsertRows(k: Knex, ...args: Parameters<typeof upsertRowsStatements>): Promise<number> {
  const dialect = args[0];
  for (const statement of upsertRowsStatements(...args)) await execute(k, dialect, statement);
  return args[5].length;
}

/**
 * Rows as one binding per column: an array of its values, or for `json` columns (JSON
 * texts) when none is null or holds a line feed, the texts joined by line feeds. A line
 * feed in JSON text can only be whitespace between tokens, and JSON.stringify writes
 * none; documents that hold one are bound as an array instead, stored exactly as given.
 */
function arrayBindings(columns: Columns, rows: ReadonlyArray<readonly unknown[]>): { bindings: unknown[]; jsonAsLines: boolean } {
  const jsonAsLines = columns.every(([, type], c) => type !== 'json' || rows.every((r) => typeof r[c] === 'string' && !(r[c] as string).includes('\n')));
  const bindings = columns.map(([, type], c) => {
    const values = rows.map((r) => r[c] ?? null);
    return type === 'json' && jsonAsLines ? values.join('\n') : values;
  });
  return { bindings, jsonAsLines };
}
