import test from 'ava';
import { keySetting } from '../src/cli/command.js';
import { eachDialect, isolatedDatabase } from './helpers/databases.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { closedPort } from './helpers/net.js';

test('--help lists the environment variables, the config file and every exit code', async (t) => {
  const r = await spawnCli(['--help']);
  t.is(r.code, 0);
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'MTC_BATCH_CONFIG', 'MTC_BATCH_LOG_FORMAT', 'DEBUG', '--config']) t.true(r.stdout.includes(name), name);
  for (const line of ['0 ok', '1 failure', '2 usage or configuration error', '3 not found', '4 unauthorised or forbidden', '5 not applicable', '6 partial']) {
    t.true(r.stdout.includes(line), line);
  }
  for (const command of ['migrate', 'status']) t.regex(r.stdout, new RegExp(`^  ${command} `, 'm'));
});

test('no command at all prints the help on stderr and exits 2; `help` and --help exit 0', async (t) => {
  const none = await spawnCli([]);
  t.is(none.code, 2);
  t.is(none.stdout, '');
  t.regex(none.stderr, /Usage: mtc-batch[\s\S]*say which command to run/);
  for (const args of [['help'], ['--help']]) {
    const r = await spawnCli(args);
    t.is(r.code, 0, args.join(' '));
    t.regex(r.stdout, /Usage: mtc-batch/);
  }
});

test('a subcommand --help shows its flags with their environment variables', async (t) => {
  const r = await runCli(['migrate', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /--owned-only/);
  t.regex(r.stdout, /--database-url <value>.*\[env DATABASE_URL;\s+default sqlite:\.\/mtc-batch\.sqlite\]/s);
  t.regex(r.stdout, /--json/);
});

eachDialect('migrate and status --json each print exactly one JSON object', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  const migrated = await spawnCli(['migrate', '--json'], { env: tdb.env });
  t.is(migrated.code, 0, migrated.stderr);
  t.like(migrated.json(), { dialect, schema: tdb.config.databaseSchema, applied: ['0001_rescope_queue', '0002_course_reference', '0003_mtc_reference'] });
  // The human line names the schema it changed (two schemas of one database are two systems).
  const again = await runCli(['migrate'], { env: tdb.env });
  t.regex(again.stdout, tdb.config.databaseSchema ? new RegExp(`^schema ${tdb.config.databaseSchema} of postgres://.* is up to date`) : /^sqlite:.* is up to date/);
  t.regex(migrated.stderr, /"msg":"applying 0001_rescope_queue"/);
  const status = await spawnCli(['status', '--json'], { env: tdb.env });
  t.is(status.code, 0, status.stderr);
  t.deepEqual(status.json<{ queue: unknown }>().queue, { queued: 0, dispatched: 0, processing: 0, failed: 0 });
  const human = await runCli(['status'], { env: tdb.env });
  t.regex(human.stdout, /^  queued +0$/m);
});

eachDialect('status on an unmigrated database exits 2 and says to run migrate', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  const r = await runCli(['status'], { env: { ...tdb.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /run "mtc-batch migrate"/);
  t.is(r.stdout, '');
});

test('an unreachable database is one line on stderr, password masked, no stack trace, exit 1', async (t) => {
  const port = await closedPort();
  const r = await spawnCli(['status'], { env: { DATABASE_URL: `postgres://bob:hunter2@127.0.0.1:${port}/x`, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(r.code, 1);
  const [line, finished, ...more] = r.stderr.split('\n');
  t.is(line, `mtc-batch status: error: cannot connect to the database postgres://bob:***@127.0.0.1:${port}/x: connect ECONNREFUSED 127.0.0.1:${port}`);
  t.regex(finished ?? '', /^mtc-batch status: finished {2}\(exitCode=1 durationMs=\d+\)$/);
  t.deepEqual(more, ['']);
  t.false(r.stderr.includes('hunter2'));
  const withJson = await runCli(['status', '--json'], { env: { DATABASE_URL: `postgres://bob:hunter2@127.0.0.1:${port}/x` } });
  t.like(withJson.json<{ error: object }>().error, { code: 'connection', exitCode: 1 });
});

test('DEBUG shows the stack with its cause', async (t) => {
  const port = await closedPort();
  const r = await runCli(['status'], { env: { DATABASE_URL: `postgres://127.0.0.1:${port}/x`, DEBUG: '1' } });
  t.is(r.code, 1);
  t.regex(r.stderr, /ConnectionError: cannot connect[^]*caused by:[^]*ECONNREFUSED/);
});

test('bad flags and settings exit 2 naming the problem', async (t) => {
  const unknown = await runCli(['status', '--bogus', '--json']);
  t.is(unknown.code, 2);
  t.like(unknown.json<{ error: object }>().error, { code: 'usage', message: "unknown option '--bogus'" });
  const badEnv = await runCli(['status'], { env: { MTC_BATCH_LOG_LEVEL: 'loud' } });
  t.is(badEnv.code, 2);
  t.regex(badEnv.stderr, /MTC_BATCH_LOG_LEVEL must be one of debug, info, warn, error; got \\"loud\\"/);
  const noCommand = await runCli(['frobnicate']);
  t.is(noCommand.code, 2);
  // In the JSON log format a usage error is one JSON record, its hint inside it; in human, text.
  for (const [args, env] of [[['status', '--bogus'], { MTC_BATCH_LOG_FORMAT: 'json' }], [['status', '--log-format', 'json', '--member']], [['frobnicate'], { MTC_BATCH_LOG_FORMAT: 'json' }]] as Array<[string[], Record<string, string>?]>) {
    const r = await runCli(args, { env: env ?? {} });
    t.is(r.code, 2, args.join(' '));
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    t.is(lines.length, 1, r.stderr);
    t.like(JSON.parse(lines[0]!) as object, { level: 'error', exitCode: 2 });
    t.regex(lines[0]!, /\(run with --help for usage\)/);
  }
  const human = await runCli(['status', '--bogus'], { env: { MTC_BATCH_LOG_FORMAT: 'human' } });
  t.regex(human.stderr, /^error: unknown option '--bogus'\n\(run with --help for usage\)\n$/);
  // A command's option before the command's name: said so, on stderr and in the JSON error.
  const early = await runCli(['--json', 'status'], { env: { MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(early.code, 2);
  t.regex(early.stderr, /^error: unknown option '--json': options go after the command, e\.g\. "mtc-batch status --json"\n/);
  t.like(early.json<{ error: object }>().error, { code: 'usage', message: 'unknown option \'--json\': options go after the command, e.g. "mtc-batch status --json"' });
});


test('a WRONGTYPE refusal naming a key is traced to the one setting the key comes from', (t) => {
  const c = { busKey: 'app:bus', notificationIndexKey: '{app:o}:notified', notificationPrefix: 'school.home.overdue:' };
  const refusal = (key: string) => `WRONGTYPE the key ${key} holds a hash, not a list`;
  t.is(keySetting(refusal('app:bus'), c), 'busKey');
  t.is(keySetting(refusal('{app:o}:notified'), c), 'notificationIndexKey');
  t.is(keySetting(refusal('{app:o}:notified:journal'), c), 'notificationIndexKey');
  t.is(keySetting(refusal('school.home.overdue:0b7e0e1a-3c1b-4c8e-9a55-6f0a4d2b9e10'), c), 'notificationPrefix');
  t.is(keySetting(refusal('{app:o}:notifiedx'), c), null, 'a key that only starts like the index is not one of its own');
  t.is(keySetting(refusal('another:key'), c), null);
  t.is(keySetting('WRONGTYPE Operation against a key holding the wrong kind of value', c), null, "Redis's own names no key");
});
