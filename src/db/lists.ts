/**
 * Lists of values in statements, the fastest way each dialect allows: PostgreSQL binds a
 * whole list as one array parameter; the others bind value by value, in chunks that fit
 * their parameter limit (SQL Server: 2,100) and row limit per INSERT.
 */
import type { Knex } from 'knex';
import { type Dialect, type SqlListType, chunksFor, insertRowsPerStatement } from './dialect.js';
import { execute, statementOf } from './execute.js';

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

/**
 * Inserts `rows` (values in `columns` order; a `json` column takes JSON text). Returns
 * how many rows were inserted, which with ignoreDuplicates excludes the skipped ones.
 */
export async function insertRows(
  k: Knex,
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<readonly [string, SqlListType]>,
  rows: ReadonlyArray<readonly unknown[]>,
  options: InsertOptions = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const ignore = options.ignoreDuplicates === true;
  if (dialect.jsonRowsInsertSql) {
    const sql = dialect.jsonRowsInsertSql(table, columns, ignore);
    return (await execute(k, dialect, { sql, bindings: [jsonRows(columns, rows)] }, { countAffected: true })).affected;
  }
  let inserted = 0;
  const perStatement = insertRowsPerStatement(dialect, columns.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const objects = rows.slice(i, i + perStatement).map((r) => Object.fromEntries(columns.map(([name], c) => [name, r[c]])));
    const builder = k(table).insert(objects);
    // SQL Server has no ON CONFLICT: its unique index ignores duplicate keys itself.
    const statement = statementOf(ignore && dialect.ignoreDuplicatesClause ? builder.onConflict().ignore() : builder);
    inserted += (await execute(k, dialect, statement, { countAffected: true })).affected;
  }
  return inserted;
}

/**
 * Stores `rows` and replaces the `replaced` columns (and stamps the `stamped` ones with
 * now) of rows whose key exists already, each chunk in one statement (dialect.upsertRowsSql):
 * a reader sees the old row or the new one, never none. Keys must be distinct. Run it in
 * a transaction when the rows are more than one statement holds and must land together.
 */
export async function upsertRows(
  k: Knex,
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<readonly [string, SqlListType]>,
  key: { columns: readonly string[]; nullable: string },
  change: { replaced: readonly string[]; stamped: readonly string[] },
  rows: ReadonlyArray<readonly unknown[]>,
): Promise<number> {
  if (rows.length === 0) return 0;
  if (dialect.jsonRowsInsertSql) {
    const sql = dialect.upsertRowsSql(table, columns, key, change.replaced, change.stamped, rows.length);
    await execute(k, dialect, { sql, bindings: [jsonRows(columns, rows)] });
    return rows.length;
  }
  const perStatement = insertRowsPerStatement(dialect, columns.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const sql = dialect.upsertRowsSql(table, columns, key, change.replaced, change.stamped, chunk.length);
    await execute(k, dialect, { sql, bindings: chunk.flat() });
  }
  return rows.length;
}

/**
 * Rows as one JSON array of objects. Values of `json` columns are JSON texts already and
 * are embedded as they are, not quoted again.
 */
function jsonRows(columns: ReadonlyArray<readonly [string, SqlListType]>, rows: ReadonlyArray<readonly unknown[]>): string {
  const keys = columns.map(([name]) => `${JSON.stringify(name)}:`);
  const parts = rows.map((row) => {
    const fields = columns.map(([, type], i) => {
      const value = row[i];
      return keys[i] + (type === 'json' && typeof value === 'string' ? value : JSON.stringify(value ?? null));
    });
    return `{${fields.join(',')}}`;
  });
  return `[${parts.join(',')}]`;
}
