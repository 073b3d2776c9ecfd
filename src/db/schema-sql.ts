/**
 * The DDL files in sql/: the exact statements `migrate` runs, compiled per dialect
 * without a connection. sql/mssql.sql is what a DBA reviews before the first deployment.
 */
import knexFactory, { type Knex } from 'knex';
import { type Dialect, type DialectName, dialects } from './dialect.js';
import { bookkeepingTable } from './migrate.js';
import { migrations } from './migrations/index.js';

export const sqlFileNames: Readonly<Record<DialectName, string>> = Object.freeze({
  sqlite: 'sqlite.sql',
  postgres: 'postgres.sql',
  mssql: 'mssql.sql',
});

const titles: Record<DialectName, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL', mssql: 'SQL Server' };

/** A knex instance that only compiles SQL for `dialect` (no connection, no driver loaded). */
export function compilerFor(dialect: Dialect): Knex {
  return knexFactory({ client: dialect.knexClient, useNullAsDefault: true });
}

/** The whole schema file for one dialect. */
export function schemaSql(dialect: Dialect): string {
  const k = compilerFor(dialect);
  const end = dialect.name === 'mssql' ? ';\nGO\n' : ';\n';
  const lines = [
    `-- mtc-batch schema for ${titles[dialect.name]}.`,
    '-- Generated from src/db/migrations by `npm run sql`; do not edit (a test fails when it is stale).',
    '-- `mtc-batch migrate` runs these same statements in one transaction after taking a lock;',
    `-- the INSERTs into ${bookkeepingTable} record each step so migrate skips it afterwards.`,
    '',
    dialect.createBookkeepingSql(bookkeepingTable) + end,
  ];
  for (const m of migrations) {
    lines.push(`-- ${m.name} (${m.group}${m.group === 'reference' ? ', skipped by --owned-only' : ''}): ${m.description}`);
    for (const sql of m.statements(k, dialect)) lines.push(sql + end);
    lines.push(k(bookkeepingTable).insert({ name: m.name, applied_at: k.raw(dialect.nowSql) }).toQuery() + end);
  }
  return lines.join('\n');
}

export function allSchemaSql(): Array<{ file: string; sql: string }> {
  return Object.values(dialects).map((d) => ({ file: sqlFileNames[d.name], sql: schemaSql(d) }));
}
