/**
 * Each test gets its own database: a fresh SQLite file in a temporary folder, or a fresh
 * PostgreSQL schema (dropped afterwards). The same spec runs on every dialect chosen by
 * MTC_BATCH_TEST_DIALECTS (default: sqlite,postgres), like knex's getAllDbs().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import knexFactory, { type Knex } from 'knex';
import type { Config } from '../../src/config/settings.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import type { DialectName } from '../../src/db/dialect.js';
import { postgresGrants } from '../../src/db/grants.js';
import { migrate } from '../../src/db/migrate.js';
import { clusterTests } from './redis.js';

export type LiveDialect = Extract<DialectName, 'sqlite' | 'postgres'>;

export const postgresUrl = process.env.MTC_BATCH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function dialectsUnderTest(): LiveDialect[] {
  const raw = process.env.MTC_BATCH_TEST_DIALECTS ?? 'sqlite,postgres';
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of list) {
    if (name !== 'sqlite' && name !== 'postgres') {
      throw new Error(`MTC_BATCH_TEST_DIALECTS: ${name} is not a live test dialect (sqlite, postgres)`);
    }
  }
  return list as LiveDialect[];
}

export interface TestDatabase {
  dialect: LiveDialect;
  /** Settings that point a command (or a child process) at this database. */
  config: Pick<Config, 'databaseUrl' | 'databaseSchema'>;
  /** The same as environment variables, for spawned CLIs. */
  env: Record<string, string>;
  /** Opens another connection pool to the same database (for concurrency tests). */
  open(poolSize?: number): Promise<Database>;
}

/** Creates an empty isolated database for `t`, removed when the test ends. */
export async function isolatedDatabase(t: ExecutionContext, dialect: LiveDialect): Promise<TestDatabase> {
  const id = randomBytes(5).toString('hex');
  let config: TestDatabase['config'];
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-test-'));
    config = { databaseUrl: `sqlite:${join(dir, 'test.sqlite')}`, databaseSchema: null };
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  } else {
    const schema = `t_${id}`;
    config = { databaseUrl: postgresUrl, databaseSchema: schema };
    t.teardown(async () => {
      const admin = knexFactory({ client: 'pg', connection: postgresUrl, pool: { min: 0, max: 1 } });
      try {
        await admin.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.destroy();
      }
    });
  }
  const env: Record<string, string> = { DATABASE_URL: config.databaseUrl };
  if (config.databaseSchema) env.MTC_BATCH_DATABASE_SCHEMA = config.databaseSchema;
  const opened: Database[] = [];
  t.teardown(async () => {
    await Promise.all(opened.map((d) => d.close()));
  });
  return {
    dialect,
    config,
    env,
    async open(poolSize?: number) {
      const d = await openDatabase(config, { poolSize, create: true });
      opened.push(d);
      return d;
    },
  };
}

/**
 * An isolated database with the whole schema migrated, and one open pool on it (for
 * seeding and checking). On PostgreSQL the CLI's environment (`tdb.env`) connects as a
 * job role of the test's own, with exactly the rights sql/grants-postgres.sql gives:
 * every job a test runs through the CLI proves it needs no more.
 */
export async function migratedDatabase(t: ExecutionContext, dialect: LiveDialect): Promise<{ tdb: TestDatabase; db: Database }> {
  const tdb = await isolatedDatabase(t, dialect);
  const db = await tdb.open();
  await migrate(db);
  if (dialect !== 'postgres') return { tdb, db };
  const jobRole = await testRole(t, db, `${tdb.config.databaseSchema}_job`);
  for (const sql of postgresGrants({ schema: tdb.config.databaseSchema!, migrateRole: 'postgres', jobRole }).afterMigrate) await db.knex.raw(sql);
  return { tdb: { ...tdb, env: { ...tdb.env, DATABASE_URL: urlAs(jobRole) } }, db };
}

/** A login role of the test's own (trust authentication: no password), dropped with the test. */
export async function testRole(t: ExecutionContext, db: Database, name: string): Promise<string> {
  await db.knex.raw(`CREATE ROLE "${name}" LOGIN`);
  t.teardown(async () => {
    const admin = knexFactory({ client: 'pg', connection: postgresUrl, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`DROP OWNED BY "${name}"`);
      await admin.raw(`DROP ROLE IF EXISTS "${name}"`);
    } finally {
      await admin.destroy();
    }
  });
  return name;
}

/** The test server's URL, logging in as `role`. */
export function urlAs(role: string): string {
  const url = new URL(postgresUrl);
  url.username = role;
  url.password = '';
  return url.toString();
}

/** Registers `title [dialect]` for every dialect under test. */
export function eachDialect(title: string, fn: (t: ExecutionContext, dialect: LiveDialect) => Promise<void> | void): void {
  for (const dialect of dialectsUnderTest()) {
    test(`${title} [${dialect}]`, (t) => fn(t, dialect));
  }
}

/** Like eachDialect, for specs that only make sense with several processes on one server. */
export function postgresOnly(title: string, fn: (t: ExecutionContext) => Promise<void> | void): void {
  if (dialectsUnderTest().includes('postgres')) test(`${title} [postgres]`, (t) => fn(t));
}

/** Where a spec runs: a database, and a single Redis or a Redis Cluster. */
export interface Target {
  dialect: LiveDialect;
  redis: 'single' | 'cluster';
}

/**
 * Registers `title [dialect]` for every dialect on a single Redis, and
 * `title [postgres, redis cluster]` against a Redis Cluster (the file must call
 * useRedisCluster()). Set MTC_BATCH_TEST_REDIS_CLUSTER=0 to leave the cluster out.
 */
export function eachTarget(title: string, fn: (t: ExecutionContext, target: Target) => Promise<void> | void): void {
  for (const dialect of dialectsUnderTest()) test(`${title} [${dialect}]`, (t) => fn(t, { dialect, redis: 'single' }));
  clusterOnly(title, (t, target) => fn(t, target));
}

/** Registers `title [postgres, redis cluster]` alone (the file must call useRedisCluster()). */
export function clusterOnly(title: string, fn: (t: ExecutionContext, target: Target) => Promise<void> | void): void {
  if (clusterTests && dialectsUnderTest().includes('postgres')) {
    test(`${title} [postgres, redis cluster]`, (t) => fn(t, { dialect: 'postgres', redis: 'cluster' }));
  }
}

/** PostgreSQL: how many sessions wait for a lock on `table` (a name the connection resolves). */
export async function lockWaiters(k: Knex, table: string): Promise<number> {
  const { rows } = (await k.raw('SELECT count(DISTINCT pid)::int AS n FROM pg_locks WHERE NOT granted AND relation = CAST(? AS regclass)', [table])) as { rows: Array<{ n: number }> };
  return rows[0]!.n;
}
