/**
 * Applies the migration registry. Everything happens in one transaction behind a
 * database-wide lock (PostgreSQL advisory lock, SQL Server applock, SQLite's write lock),
 * so two `migrate` runs at the same moment both succeed: the second waits, then finds
 * nothing left to do. DDL is transactional on all three databases, so a failed run
 * leaves nothing half-made.
 */
import type { Knex } from 'knex';
import { type Logger, silentLogger } from '../log/logger.js';
import type { Database } from './database.js';
import { type Migration, migrations } from './migrations/index.js';
import { ConfigError, SchemaError, errorMessage, statementCause } from '../errors.js';
import { withRetry } from './retry.js';
import { missingTable, permissionDenied } from './sql-text.js';

export const bookkeepingTable = 'mtc_batch_migrations';

export interface MigrateOptions {
  /** Create only the toolkit's own tables; the reference tables exist elsewhere. */
  ownedOnly?: boolean;
  log?: Logger;
}

export interface MigrateResult {
  /** Migrations this run applied, in order. */
  applied: string[];
  /** Migrations found already applied. */
  alreadyApplied: string[];
  /** Reference migrations left out because of --owned-only. */
  skipped: string[];
}

export function selectMigrations(ownedOnly: boolean): { wanted: Migration[]; skipped: Migration[] } {
  const wanted = migrations.filter((m) => !ownedOnly || m.group === 'owned');
  return { wanted, skipped: migrations.filter((m) => !wanted.includes(m)) };
}

/** Brings the schema up to date. Running it again is a no-op. */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? silentLogger;
  const { wanted, skipped } = selectMigrations(options.ownedOnly ?? false);
  const { knex, dialect } = db;

  return withRetry(dialect, log, 'migrate', () =>
    knex.transaction(async (trx) => {
      for (const sql of dialect.migrationLockSql(bookkeepingTable)) await trx.raw(sql);
      // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs the right to create
      // schemas even when the schema exists, which a migration role given one schema lacks.
      if (db.schema && dialect.schemas) {
        const exists = await trx.raw('SELECT 1 FROM pg_namespace WHERE nspname = ?', [db.schema]);
        if ((exists as { rows: unknown[] }).rows.length === 0) await trx.raw(`CREATE SCHEMA "${db.schema}"`);
      }
      await trx.raw(dialect.createBookkeepingSql(bookkeepingTable));
      const done = new Set(await appliedNames(trx));
      // A step left out now but applied by an earlier full run is reported as applied.
      const result: MigrateResult = {
        applied: [],
        alreadyApplied: [],
        skipped: skipped.filter((m) => !done.has(m.name)).map((m) => m.name),
      };
      for (const migration of migrations) {
        if (!wanted.includes(migration)) {
          if (done.has(migration.name)) result.alreadyApplied.push(migration.name);
          continue;
        }
        if (done.has(migration.name)) {
          result.alreadyApplied.push(migration.name);
          continue;
        }
        const statements = migration.statements(knex, dialect);
        // A step for another database (SQLite's collations) is recorded, with nothing to run.
        if (statements.length === 0) log.info(`recording ${migration.name}: nothing to change on ${dialect.name}`, { tables: migration.description });
        else log.info(`applying ${migration.name}`, { tables: migration.description });
        for (const sql of statements) await trx.raw(sql);
        await trx(bookkeepingTable).insert({ name: migration.name, applied_at: trx.raw(dialect.nowSql) });
        result.applied.push(migration.name);
      }
      return result;
    }),
  );
}

async function appliedNames(k: Knex): Promise<string[]> {
  const rows: Array<{ name: string }> = await k(bookkeepingTable).select('name');
  return rows.map((r) => r.name);
}

/**
 * Fails with a SchemaError, whose message says to run `migrate`, unless the toolkit's own
 * migrations are all applied; one query. Reference migrations are not required: in
 * production those tables belong to other systems and are not recorded here.
 */
export async function assertMigrated(k: Knex, display: string): Promise<void> {
  let done: Set<string>;
  try {
    done = new Set(await appliedNames(k));
  } catch (err) {
    if (missingTable(err) !== null) throw new SchemaError(`the schema is not migrated in ${display}: run "mtc-batch migrate" first`);
    // Connected, but the role may not read the toolkit's tables: missing grants, not an outage.
    if (permissionDenied(err)) {
      throw new ConfigError(
        `connected to ${display}, but its role may not read the migrations table (${statementCause(err)?.cause ?? errorMessage(err)}): ` +
          'grant the job role its rights (sql/grants-postgres.sql or sql/grants-mssql.sql; see "Database rights" in the README)',
        { cause: err },
      );
    }
    throw err;
  }
  const missing = migrations.filter((m) => m.group === 'owned' && !done.has(m.name)).map((m) => m.name);
  if (missing.length > 0) {
    throw new SchemaError(`the database ${display} is missing migration${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: run "mtc-batch migrate"`);
  }
}
