/**
 * Running a statement and reading back its rows and affected-row count the same way on
 * every driver: pg returns a Result, better-sqlite3 rows or a run summary, tedious rows only.
 */
import type { Knex } from 'knex';
import type { Dialect } from './dialect.js';

export interface Statement {
  sql: string;
  bindings: readonly unknown[];
}

export interface Executed<R> {
  rows: R[];
  /** Rows inserted, updated or deleted (for statements that return rows: how many). */
  affected: number;
}

/** SQL and bindings of a knex query, with `?` placeholders, ready for `execute`. */
export function statementOf(builder: Knex.QueryBuilder | Knex.Raw): Statement {
  const { sql, bindings } = builder.toSQL();
  return { sql, bindings: bindings as unknown[] };
}

/**
 * Runs `statement` on `k` (a knex instance or transaction). With `countAffected`, a
 * statement that returns no rows still reports how many it changed.
 */
export async function execute<R = Record<string, unknown>>(
  k: Knex,
  dialect: Dialect,
  statement: Statement,
  options: { countAffected?: boolean } = {},
): Promise<Executed<R>> {
  const sql = options.countAffected && dialect.affectedRowsSuffix ? statement.sql + dialect.affectedRowsSuffix : statement.sql;
  const result: unknown = await k.raw(sql, statement.bindings as Knex.RawBinding[]);
  if (Array.isArray(result)) {
    if (options.countAffected && dialect.affectedRowsSuffix) {
      const last = result[result.length - 1] as { affected_rows?: unknown } | undefined;
      return { rows: result.slice(0, -1) as R[], affected: Number(last?.affected_rows ?? 0) };
    }
    return { rows: result as R[], affected: result.length };
  }
  const r = result as { rows?: R[]; rowCount?: number | null; changes?: number };
  if (r.rows !== undefined) return { rows: r.rows, affected: r.rowCount ?? r.rows.length };
  return { rows: [], affected: r.changes ?? 0 };
}
