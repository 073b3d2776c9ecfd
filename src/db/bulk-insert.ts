import type { Knex } from 'knex';
import { type Dialect, insertRowsPerStatement } from './dialect.js';

/**
 * Inserts rows in statements that fit the dialect's parameter limit. Rows must all have
 * the same keys (SQLite fills a missing key with NULL, not the column default).
 */
export async function insertInChunks(k: Knex, dialect: Dialect, table: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  if (rows.length === 0) return;
  const perStatement = insertRowsPerStatement(dialect, Object.keys(rows[0]!).length);
  for (let i = 0; i < rows.length; i += perStatement) await k(table).insert(rows.slice(i, i + perStatement));
}
