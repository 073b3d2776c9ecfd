/**
 * Least privilege on PostgreSQL, the way a DBA sets it up from the README: a migration
 * role that creates and owns the toolkit's tables, a job role with only what
 * sql/grants-postgres.sql gives, and every job run as that job role. The SQL Server
 * script is parsed like the other T-SQL files.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { allGrantFiles, mssqlGrantsFile } from '../src/db/grants.js';
import { seedClass, seedCompetencies, seedCourse, learners } from '../src/seed/course-world.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { spawnCli } from './helpers/cli.js';
import { exec } from './helpers/exec.js';
import { isolatedDatabase, postgresOnly, postgresUrl, testRole, urlAs } from './helpers/databases.js';
import { isolatedRedis } from './helpers/redis.js';
import { parseTsql } from './helpers/tsql-parser.js';

const sqlDir = new URL('../../sql/', import.meta.url);

for (const { file, sql } of allGrantFiles()) {
  test(`sql/${file} is generated from src/db/grants.ts (run "npm run sql" after changing it)`, (t) => {
    t.is(readFileSync(new URL(file, sqlDir), 'utf8'), sql);
  });
}

test('the SQL Server grant script parses as T-SQL, batch by batch', (t) => {
  const batches = mssqlGrantsFile().split(/^GO$/m).map((b) => b.replace(/^--.*$/gm, '').trim().replace(/;$/, '')).filter(Boolean);
  t.true(batches.length > 20);
  for (const batch of batches) {
    if (!batch.startsWith('GRANT ')) {
      t.deepEqual(parseTsql(batch), [], batch);
      continue;
    }
    // The grammar lacks some of GRANT's documented forms (UPDATE and DELETE as permissions,
    // the SCHEMA:: class): each GRANT has T-SQL's shape, and parses once those are put
    // into forms the grammar knows.
    t.regex(batch, /^GRANT (SELECT|INSERT|UPDATE|DELETE|ALTER|CREATE TABLE)( \(\[\w+\]\))?( ON (SCHEMA::)?\[\w+\])? TO \[mtc_batch_(job|migrate)\]$/, batch);
    t.deepEqual(parseTsql(batch.replace(/^GRANT (UPDATE|DELETE)/, 'GRANT SELECT').replace('SCHEMA::', '')), [], batch);
  }
  const grants = mssqlGrantsFile();
  t.regex(grants, /^GRANT UPDATE \(\[processingFailed\]\) ON \[check\] TO \[mtc_batch_job\];$/m);
  t.notRegex(grants, /GRANT (INSERT|UPDATE|DELETE) ON \[(check|pupil|school|class|course)/, 'no writes to reference tables beyond the one column');
});

async function psql(file: string, vars: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const url = new URL(postgresUrl);
  const args = ['-h', url.hostname, '-p', url.port || '5432', '-U', url.username || 'postgres', '-d', url.pathname.slice(1), '-X', '-q'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const r = await exec('psql', [...args, '-f', file]);
  return { status: r.status, output: r.stdout + r.stderr };
}

postgresOnly('every job runs as the job role of sql/grants-postgres.sql; the migration role owns the tables', async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  const admin = await tdb.open();
  const schema = tdb.config.databaseSchema!;
  const migrateRole = await testRole(t, admin, `${schema}_mig`);
  const jobRole = await testRole(t, admin, `${schema}_job`);
  await admin.knex.raw(`CREATE SCHEMA "${schema}"`);
  const script = fileURLToPath(new URL('grants-postgres.sql', sqlDir));
  const vars = { schema, migrate_role: migrateRole, job_role: jobRole };

  const before = await psql(script, { ...vars, before_migrate: '1' });
  t.is(before.status, 0, before.output);
  const migrated = await spawnCli(['migrate'], { env: { DATABASE_URL: urlAs(migrateRole), MTC_BATCH_DATABASE_SCHEMA: schema } });
  t.is(migrated.code, 0, migrated.stderr);
  const owners = await admin.knex.raw('SELECT tablename, tableowner FROM pg_tables WHERE schemaname = ?', [schema]);
  const ownedBy = new Map((owners.rows as Array<{ tablename: string; tableowner: string }>).map((r) => [r.tablename, r.tableowner]));
  for (const table of ['rescope_queue', 'rescoped_content', 'mtc_batch_migrations']) t.is(ownedBy.get(table), migrateRole, table);
  const after = await psql(script, vars);
  t.is(after.status, 0, after.output);

  // A world to work on, written by the administrator.
  const course = await seedCourse(admin, { units: [[[{ competencies: ['a'] }, { competencies: ['b'] }]]], version: '1' });
  const [learner] = learners(1);
  const klass = await seedClass(admin, { courseId: course.id, rescope: true, members: [learner!] });
  await seedCompetencies(admin, { [learner!]: { a: 'mastered' } });
  const school = await seedSchool(admin);
  const pupil = await seedPupil(admin, school.id, { check: { loggedInMinutesAgo: 5 } });
  await seedPupil(admin, school.id, { check: { loggedInMinutesAgo: 3000 } });

  const redis = await isolatedRedis(t);
  const env = {
    DATABASE_URL: urlAs(jobRole),
    MTC_BATCH_DATABASE_SCHEMA: schema,
    REDIS_URL: redis.url,
    MTC_BATCH_BUS_KEY: `${redis.prefix}bus`,
    MTC_BATCH_SESSION_PREFIX: `${redis.prefix}session:`,
    MTC_BATCH_NOTIFICATION_PREFIX: `${redis.prefix}school:`,
    MTC_BATCH_NOTIFICATION_INDEX_KEY: `${redis.prefix}{overdue}:notified`,
  };
  await redis.client.set(`${redis.prefix}session:tok`, JSON.stringify({ user_id: klass.creatorId }), 'EX', 600);
  const run = async (args: string[], expected = 0) => {
    const r = await spawnCli(args, { env, stdin: `${JSON.stringify({ source: 'rescope', classId: klass.id })}\n` });
    t.is(r.code, expected, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  await run(['enqueue', '--source', 'join.class', '--class', klass.id, '--member', learner!]);
  await run(['enqueue', '--jsonl', '-']);
  await run(['rescope-show', '--token', 'tok', '--course', course.id, '--class', klass.id, '--user', learner!], 3);
  await run(['dispatch']);
  await run(['process']);
  const shown = await run(['rescope-show', '--token', 'tok', '--course', course.id, '--class', klass.id, '--user', learner!, '--json']);
  t.like(shown.json(), { status: 'found' });
  await run(['overdue-sync', '--dry-run']);
  await run(['overdue-sync']);
  await run(['notify-invalid', '--check-code', pupil.checkCode]);
  await run(['status']);

  // And nothing more: the job role cannot change what it only reads.
  const jobDb = await (await import('knex')).default({ client: 'pg', connection: urlAs(jobRole), searchPath: [schema], pool: { min: 0, max: 1 } });
  t.teardown(() => jobDb.destroy());
  for (const attempt of [
    jobDb('class').update({ rescope: false }),
    jobDb('check').update({ received: true }),
    jobDb('course').insert({ id: course.id, title: 'x' }),
    jobDb.raw('CREATE TABLE intruder (id int)'),
    jobDb.raw('DROP TABLE rescope_queue'),
  ]) {
    const err = await t.throwsAsync(Promise.resolve(attempt).then(() => undefined));
    t.regex(err?.message ?? '', /permission denied|must be owner/);
  }
});

postgresOnly('a role that may connect but not read the toolkit\'s tables is told to grant the job role\'s rights (exit 2), not "cannot connect"', async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  t.is((await spawnCli(['migrate'], { env: tdb.env })).code, 0);
  const admin = await tdb.open();
  const bare = await testRole(t, admin, `${tdb.config.databaseSchema}_bare`);
  await admin.knex.raw(`GRANT USAGE ON SCHEMA "${tdb.config.databaseSchema}" TO "${bare}"`);
  await admin.close();
  const r = await spawnCli(['status', '--json'], { env: { ...tdb.env, DATABASE_URL: urlAs(bare) } });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /connected to schema \S+ of postgres:\/\/.*, but its role may not read the migrations table \(permission denied for table mtc_batch_migrations\): grant the job role its rights/);
  t.notRegex(r.stderr, /cannot connect/);
});
