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

/**
 * Runs INSERT, UPDATE and DELETE statements (without RETURNING) together as ONE
 * statement, for a dialect with writable CTEs (dialect.writableCte): each becomes an
 * item of its WITH clause, so they are atomic without a transaction around them and
 * cost one round trip. Returns how many rows each changed, in order. The items share a
 * snapshot: none sees another's changes, so they must not change the same rows.
 */
export async function executeTogether(k: Knex, dialect: Dialect, statements: readonly Statement[]): Promise<number[]> {
  if (!dialect.writableCte) throw new Error(`${dialect.name} cannot run several changes as one statement`);
  if (statements.length === 0) return [];
  const items = statements.map((s, i) => `s${i} AS (${s.sql} RETURNING 1)`);
  const counts = statements.map((_, i) => `(SELECT count(*) FROM s${i}) AS n${i}`);
  const sql = `WITH ${items.join(', ')} SELECT ${counts.join(', ')}`;
  const { rows } = await execute<Record<string, unknown>>(k, dialect, { sql, bindings: statements.flatMap((s) => s.bindings) });
  const row = rows[0] ?? {};
  return statements.map((_, i) => Number(row[`n${i}`]));
}
