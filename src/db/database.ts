/**
 * Opening the database: one knex instance, its dialect capabilities, and a first query
 * that turns "unreachable" into one clear line naming the target.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { ConnectionError, ConfigError, SchemaError, errorMessage, noteStatement } from '../errors.js';
import { errorCode, readOnlyAdvice } from './sql-text.js';
import { settingPlace } from '../config/load-config.js';
import type { Config } from '../config/settings.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { Dialect } from './dialect.js';
import { type DatabaseTarget, parseDatabaseUrl } from './database-url.js';
import { assertMigrated } from './migrate.js';

export interface Database {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** Masked URL, for messages. */
  readonly display: string;
  /** Schema selected with `databaseSchema` (PostgreSQL), or null. */
  readonly schema: string | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Connections in the pool (PostgreSQL, SQL Server). SQLite always uses one. */
  poolSize?: number;
  /** Receives knex's own warnings (at debug level: the error we raise says what matters). */
  log?: Logger;
  /**
   * SQLite: whether a missing file may be created (migrate, demo). Without it a missing
   * file is an error saying to run migrate, instead of an empty file left behind.
   */
  create?: boolean;
  /** Refuse a schema that is not migrated (one query, run as the connection check). */
  requireSchema?: boolean;
}

/** Builds the knex settings for a target; exported for the compile-only SQL Server tests. */
export function knexConfig(target: DatabaseTarget, schema: string | null, poolSize: number, log: Logger = silentLogger): Knex.Config {
  const { dialect } = target;
  const forward = (level: string) => (message: unknown) => log.debug(`knex ${level}: ${errorMessage(message)}`);
  const base: Knex.Config = {
    client: dialect.knexClient,
    connection: target.connection,
    acquireConnectionTimeout: 15_000,
    // An error names the statement with its placeholders, not its values: learners' ids
    // and content stay out of logs and stored errors, and one cause reads the same for
    // every row it hits (`failed` groups errors by their text).
    compileSqlOnError: false,
    log: { warn: forward('warning'), error: forward('error'), deprecate: forward('deprecation'), debug: forward('debug') },
  };
  if (dialect.name === 'sqlite') {
    return {
      ...base,
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        // WAL lets readers run beside the one writer; busy_timeout makes concurrent
        // processes wait for the write lock instead of failing at once.
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          try {
            conn.pragma('journal_mode = WAL');
            conn.pragma('busy_timeout = 30000');
            conn.pragma('synchronous = NORMAL');
            done(null, conn);
          } catch (err) {
            done(err as Error, conn);
          }
        },
      },
    };
  }
  if (dialect.name === 'postgres') {
    // knex asks a new PostgreSQL connection `select version()` (a round trip before the
    // first query of every command) only to choose json over text for json columns on
    // servers before 9.2. The toolkit needs PostgreSQL 11 or later (INCLUDE keys): saying
    // so here makes the same choice without asking.
    base.version = '11';
  }
  if (dialect.name === 'postgres' && schema) {
    // The schema travels in the connection's start-up options: no SET round trip per
    // connection. Schema names are plain identifiers (checked when the setting loads).
    // node-postgres lets a URL's own ?options= replace these: they are joined instead, the
    // schema last, so a search_path in the URL cannot send a job to another schema than
    // the one it names in its messages.
    const { connectionString, ...connection } = target.connection as { connectionString: string };
    const url = new URL(connectionString);
    const given = url.searchParams.getAll('options');
    url.searchParams.delete('options');
    const options = [...given, `-c search_path="${schema}"`].filter(Boolean).join(' ');
    return { ...base, connection: { ...connection, connectionString: given.length === 0 ? connectionString : url.toString(), options }, pool: { min: 0, max: poolSize } };
  }
  return { ...base, pool: { min: 0, max: poolSize } };
}

/**
 * Opens the configured database and checks it answers. Throws ConnectionError with the
 * masked target when it does not.
 */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'databaseSchema'>, options: OpenDatabaseOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(config.databaseUrl);
  const { dialect } = target;
  if (config.databaseSchema && !dialect.schemas) {
    throw new ConfigError(`a database schema (--database-schema or MTC_BATCH_DATABASE_SCHEMA) applies to PostgreSQL only; ${dialect.name} has no schemas to select (unset it)`);
  }
  if (target.file && target.file !== ':memory:') {
    if (!existsSync(dirname(target.file))) {
      throw new ConnectionError(`cannot open the SQLite database ${target.display}: the folder ${dirname(target.file)} does not exist`);
    }
    if (!options.create && !existsSync(target.file)) {
      throw new SchemaError(`the SQLite database ${target.file} does not exist: run "mtc-batch migrate" to create it, or point the database URL (DATABASE_URL, --database-url or a config file's databaseUrl) at an existing one`);
    }
  }
  const knex = knexFactory(knexConfig(target, config.databaseSchema, options.poolSize ?? 10, options.log));
  // Errors then read as the database's message first (see errorMessage).
  knex.on('query-error', (err: unknown, query: { sql?: unknown }) => {
    if (typeof query?.sql === 'string') noteStatement(err, query.sql);
  });
  try {
    // The first query both checks the connection and, where the command needs the
    // schema, that it is migrated: one round trip either way.
    if (options.requireSchema) {
      await assertMigrated(knex, config.databaseSchema ? `schema ${config.databaseSchema} of ${target.display}` : target.display);
    } else {
      await knex.raw('SELECT 1 AS ok');
    }
  } catch (err) {
    await knex.destroy().catch(() => undefined);
    if (err instanceof SchemaError || err instanceof ConfigError) throw err;
    // A file that is not SQLite's (or is damaged or encrypted) opens, then fails its first read.
    const readOnly = readOnlyAdvice(err, settingPlace(config, 'databaseUrl'));
    const advice = readOnly ? `: ${readOnly}` : errorCode(err) === 'SQLITE_NOTADB' ? ': check that the database URL names the SQLite file mtc-batch migrated' : '';
    throw new ConnectionError(`cannot connect to the database ${target.display}: ${errorMessage(err)}${advice}`, { cause: err });
  }
  let closed = false;
  return {
    knex,
    dialect,
    display: target.display,
    schema: config.databaseSchema,
    async close() {
      if (closed) return;
      closed = true;
      await knex.destroy();
    },
  };
}
