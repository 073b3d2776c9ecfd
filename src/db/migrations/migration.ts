import type { Knex } from 'knex';
import type { Dialect } from '../dialect.js';

/**
 * One step of the schema. Append-only: once a migration has landed its name and
 * statements never change; a change to the schema is a new migration.
 */
export interface Migration {
  /** Stable name recorded in the bookkeeping table, e.g. `0001_rescope_queue`. */
  readonly name: string;
  /**
   * `owned`: the toolkit's own tables. `reference`: tables the surrounding systems own in
   * production, created here for the embedded database, tests and demos.
   */
  readonly group: 'owned' | 'reference';
  readonly description: string;
  /** The statements, compiled for `k`'s dialect. Must not need a connection. */
  statements(k: Knex, d: Dialect): string[];
}

/** The SQL of a schema builder as separate statements (knex returns them without bindings for DDL). */
export function ddl(builder: Knex.SchemaBuilder): string[] {
  return builder.toSQL().map((s: { sql: string; bindings?: readonly unknown[] }) => {
    if (s.bindings && s.bindings.length > 0) throw new Error(`DDL with bindings cannot be written to a file: ${s.sql}`);
    return s.sql;
  });
}

/** A timestamp column that defaults to the database's clock. */
export function timestampColumn(t: Knex.CreateTableBuilder, k: Knex, d: Dialect, name: string): Knex.ColumnBuilder {
  return t.timestamp(name).notNullable().defaultTo(k.raw(d.nowSql));
}
