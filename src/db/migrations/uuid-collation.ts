/**
 * Rebuilding a table so its UUID columns compare case-insensitively, where UUIDs are
 * text (SQLite). SQLite cannot change a column's collation in place: the rows go to a
 * temporary copy, the table is dropped and created again under its own name, the rows
 * come back, and the indexes are made again. Not "create new, copy, drop old, rename":
 * with foreign keys enforced (better-sqlite3's default) dropping a parent table counts
 * its children as violations, and only inserting the parent rows again under the name
 * the children reference takes that count back (checked at commit, with
 * `defer_foreign_keys`). The migration transaction keeps all of it atomic.
 */
import type { Knex } from 'knex';
import { quoteDouble as q } from '../sql-text.js';
import type { Dialect } from '../dialect.js';
import { ddl } from './migration.js';

export interface TableRebuild {
  table: string;
  /** The columns in the table's DDL order, each either a UUID or built by `column`. */
  define(t: Knex.CreateTableBuilder, uuid: (name: string) => Knex.ColumnBuilder): void;
  /** Every column, for the copy. */
  columns: readonly string[];
  /** UUID columns to lower-case while copying (our own tables hold lower-case ids). */
  lowerCase?: readonly string[];
  /**
   * Columns of the learner key: of rows that differed only by the case of these, the
   * newest (highest id) is kept, as the unique index made afterwards allows one.
   */
  keepNewestPerLearner?: { columns: readonly string[]; nullable: string };
  /** An AUTOINCREMENT id whose counter must survive, so ids of deleted rows are never reused. */
  autoincrement?: boolean;
  /** The table's indexes, once the rebuilt table has its name. */
  indexes(k: Knex, d: Dialect): string[];
}

export function rebuildWithUuidCollation(k: Knex, d: Dialect, rebuild: TableRebuild): string[] {
  const collation = d.uuidTextCollation;
  if (!collation) return [];
  const { table } = rebuild;
  const copy = `temp.${q(`${table}_copy`)}`;
  const seq = `temp.${q(`${table}_seq`)}`;
  const lower = new Set(rebuild.lowerCase ?? []);
  const selected = rebuild.columns.map((c) => (lower.has(c) ? `lower(${q(c)}) AS ${q(c)}` : q(c)));
  const learner = rebuild.keepNewestPerLearner;
  const newestOnly = learner
    ? ` WHERE ${q('id')} IN (SELECT MAX(${q('id')}) FROM ${q(table)} GROUP BY ` +
      `${[...learner.columns.map((c) => `lower(${q(c)})`), `lower(COALESCE(${q(learner.nullable)}, ''))`].join(', ')})`
    : '';
  const sequence = (name: string) => `${q('sqlite_sequence')} WHERE ${q('name')} = '${name}'`;
  return [
    `CREATE TEMP TABLE ${copy} AS SELECT ${selected.join(', ')} FROM ${q(table)}${newestOnly}`,
    ...(rebuild.autoincrement ? [`CREATE TEMP TABLE ${seq} AS SELECT ${q('seq')} FROM ${sequence(table)}`] : []),
    `DROP TABLE ${q(table)}`,
    ...ddl(k.schema.createTable(table, (t) => rebuild.define(t, (name) => t.specificType(name, `char(36) COLLATE ${collation}`)))),
    `INSERT INTO ${q(table)} (${rebuild.columns.map(q).join(', ')}) SELECT ${rebuild.columns.map(q).join(', ')} FROM ${copy}`,
    ...(rebuild.autoincrement
      ? [
          // The counter goes back to where it was, past the ids of deleted rows, so none is handed out again.
          `UPDATE ${q('sqlite_sequence')} SET ${q('seq')} = (SELECT ${q('seq')} FROM ${seq}) WHERE ${q('name')} = '${table}' AND ${q('seq')} < (SELECT ${q('seq')} FROM ${seq})`,
          `INSERT INTO ${q('sqlite_sequence')} (${q('name')}, ${q('seq')}) SELECT '${table}', ${q('seq')} FROM ${seq} WHERE NOT EXISTS (SELECT 1 FROM ${sequence(table)})`,
          `DROP TABLE ${seq}`,
        ]
      : []),
    `DROP TABLE ${copy}`,
    ...rebuild.indexes(k, d),
  ];
}
