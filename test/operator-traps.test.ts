/**
 * What a new operator runs into first: unreadable input, an unmigrated database, a flag
 * where a value belongs, a password with odd characters, an empty secret, a wrong Redis
 * database number, Redis down while the database is up. Each exits with the documented
 * code and one line that names the problem, and logs its `finished` record.
 */
import { chmodSync, createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { seedCourse, learners } from '../src/seed/course-world.js';
import { binPath, runCli, spawnCli, untilStderr } from './helpers/cli.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { exec } from './helpers/exec.js';
import { eachDialect, isolatedDatabase, postgresUrl } from './helpers/databases.js';
import { closedPort } from './helpers/net.js';
import { redisUrl } from './helpers/redis.js';
import { ownRedis } from './helpers/redis-server.js';
import { queueRows, rescopeFixture } from './helpers/rescope.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-traps-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const uuid = '11111111-1111-4111-8111-111111111111';

/** One error line, no stack trace, and the final record with the exit code. */
function oneClearLine(t: { regex(s: string, r: RegExp, m?: string): void; false(v: boolean, m?: string): void }, stderr: string, message: RegExp): void {
  t.regex(stderr, message);
  t.false(/\n\s+at /.test(stderr), `no stack trace:\n${stderr}`);
  t.false(/unexpected failure|Unhandled|ReplyError/.test(stderr), stderr);
}

test('an unreadable --jsonl file is a usage error naming it, for enqueue and notify-invalid', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'requests.jsonl');
  writeFileSync(file, '{}\n');
  chmodSync(file, 0o600);
  // Root reads any file: run the CLI as nobody, who cannot read this one.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : (chmodSync(file, 0o000), {});
  const env = { DATABASE_URL: postgresUrl, MTC_BATCH_LOG_FORMAT: 'human' };
  for (const command of ['enqueue', 'notify-invalid']) {
    const r = await spawnCli([command, '--jsonl', file], { env, ...asUser });
    t.is(r.code, 2, `${command}: ${r.stderr}`);
    oneClearLine(t, r.stderr, new RegExp(`cannot read --jsonl ${file}: permission denied`));
  }
  const missing = await runCli(['enqueue', '--jsonl', join(dir, 'nope.jsonl')], { env });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read --jsonl .*nope\.jsonl: no such file/);
  const folder = await runCli(['notify-invalid', '--jsonl', dir], { env });
  t.is(folder.code, 2);
  t.regex(folder.stderr, /cannot read --jsonl .*: it is a folder/);
  // `--jsonl "$FILE"` with FILE unset: the empty value is named as such.
  for (const command of ['enqueue', 'notify-invalid']) {
    const empty = await runCli([command, '--jsonl', ''], { env });
    t.is(empty.code, 2, empty.stderr);
    t.regex(empty.stderr, /--jsonl was given an empty value: give a file to read, or - for stdin/);
  }
});

eachDialect('--jsonl reads a FIFO and /dev/stdin, not only regular files', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }]]], version: '1' });
  const [a, b] = learners(2);
  const line = (member: string) => `${JSON.stringify({ source: 'oob', courseId: course.id, memberIds: [member] })}\n`;
  const viaStdin = await spawnCli(['enqueue', '--jsonl', '/dev/stdin', '--json'], { env: f.env, stdin: line(a!) });
  t.is(viaStdin.code, 0, viaStdin.stderr);
  const { reading, writer } = await enqueueFromFifo(t, f.env);
  writer.end(line(b!));
  const viaFifo = await reading;
  t.is(viaFifo.code, 0, viaFifo.stderr);
  t.is((await queueRows(f.db)).length, 2);
});

/** `enqueue --jsonl <a new FIFO> --json` running, and a writer on that FIFO. */
async function enqueueFromFifo(t: ExecutionContext, env: Record<string, string>) {
  const fifo = join(tempDir(t), 'requests.fifo');
  t.is((await exec('mkfifo', [fifo])).status, 0);
  const reading = spawnCli(['enqueue', '--jsonl', fifo, '--json'], { env });
  const writer = createWriteStream(fifo);
  t.teardown(() => writer.destroy());
  return { reading, writer };
}

test('enqueue reading a FIFO whose writer is idle stops at once on SIGINT, with the lines read so far queued', async (t) => {
  const f = await rescopeFixture(t, 'sqlite');
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }]]], version: '1' });
  const members = learners(3);
  // The writer sends three lines and keeps the pipe open, as a feeding process would.
  const { reading, writer } = await enqueueFromFifo(t, f.env);
  for (const m of members) writer.write(`${JSON.stringify({ source: 'oob', courseId: course.id, memberIds: [m] })}\n`);
  const deadline = Date.now() + 30_000;
  while ((await queueRows(f.db)).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const signalled = performance.now();
  reading.child.kill('SIGINT');
  const r = await reading;
  t.true(performance.now() - signalled < 5_000, `exited ${Math.round(performance.now() - signalled)} ms after SIGINT`);
  t.is(r.code, 1, r.stderr);
  t.like(r.json(), { queued: 3, interruptedAfterLine: 3 });
  t.is((await queueRows(f.db)).length, 3);
});

eachDialect('every command on an unmigrated database exits 2 saying to run migrate, and logs how it finished', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  // An existing but empty database (SQLite: the file exists; PostgreSQL: an empty schema).
  const db = await tdb.open();
  if (dialect === 'postgres') await db.knex.raw(`CREATE SCHEMA "${tdb.config.databaseSchema}"`);
  else await db.knex.raw('SELECT 1');
  const env = { ...tdb.env, REDIS_URL: redisUrl, MTC_BATCH_BUS_KEY: `test:${Date.now()}:bus` };
  const commands = [
    ['enqueue', '--source', 'oob', '--course', uuid, '--member', uuid],
    ['dispatch'],
    ['process'],
    ['rescope-show', '--token', 'x', '--course', uuid],
    ['overdue-sync', '--dry-run'],
    ['notify-invalid', '--check-code', uuid],
    ['status'],
  ];
  for (const args of commands) {
    const r = await runCli(args, { env });
    t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
    t.regex(r.stderr, /the schema is not migrated in .*: run \\"mtc-batch migrate\\" first/, args[0]);
    if (dialect === 'postgres') t.true(r.stderr.includes(`in schema ${tdb.config.databaseSchema} of postgres://`), `${args[0]} names the schema: ${r.stderr}`);
    const records = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    t.like(records[records.length - 1], { msg: 'finished', exitCode: 2 }, args[0]);
    t.is(typeof records[records.length - 1]!.durationMs, 'number');
  }
});

test('a missing SQLite file is not created by any command but migrate', async (t) => {
  const dir = tempDir(t);
  const env = { MTC_BATCH_LOG_FORMAT: 'human', REDIS_URL: redisUrl };
  for (const args of [['status'], ['dispatch'], ['enqueue', '--source', 'oob', '--course', uuid, '--member', uuid]]) {
    const r = await spawnCli(args, { env, cwd: dir });
    t.is(r.code, 2, r.stderr);
    oneClearLine(t, r.stderr, /the SQLite database .*mtc-batch\.sqlite does not exist: run "mtc-batch migrate" to create it/);
    t.false(existsSync(join(dir, 'mtc-batch.sqlite')), args[0]);
  }
  const migrated = await spawnCli(['migrate'], { env, cwd: dir });
  t.is(migrated.code, 0, migrated.stderr);
  t.true(existsSync(join(dir, 'mtc-batch.sqlite')));
});

test('an empty DATABASE_URL is an error, not the default database', async (t) => {
  const dir = tempDir(t);
  const r = await spawnCli(['migrate'], { env: { DATABASE_URL: '', MTC_BATCH_LOG_FORMAT: 'human' }, cwd: dir });
  t.is(r.code, 2);
  oneClearLine(t, r.stderr, /DATABASE_URL is set but empty: give a value, or remove it to use the default/);
  t.false(existsSync(join(dir, 'mtc-batch.sqlite')));
});

test('a flag in the place of a value is a usage error, not a value', async (t) => {
  const r = await runCli(['enqueue', '--source', 'oob', '--member', '--course', uuid]);
  t.is(r.code, 2);
  t.regex(r.stderr, /--member needs a value, but the next argument is the flag --course/);
  const token = await runCli(['rescope-show', '--token', '--course', uuid]);
  t.is(token.code, 2);
  t.regex(token.stderr, /--token needs a value, but the next argument is the flag --course/);
});

// Each password holds one of the characters people trip over; none may show in any output.
const passwords = ['s3cr/et', 'p#ssw0rd', 'p@ss@word', 'pa:ss:word', 'p%ss', 'p%25ss'];

test('passwords never show in messages; a URL that cannot hold its password names the setting (exit 2)', async (t) => {
  const port = await closedPort();
  const database = `sqlite:${join(tempDir(t), 'db.sqlite')}`;
  t.is((await runCli(['migrate'], { env: { DATABASE_URL: database } })).code, 0);
  for (const password of passwords) {
    for (const [name, url, args] of [
      ['DATABASE_URL', `postgres://root:${password}@127.0.0.1:${port}/db`, ['status']],
      ['REDIS_URL', `redis://root:${password}@127.0.0.1:${port}`, ['status']],
    ] as const) {
      const env: Record<string, string> = { MTC_BATCH_LOG_FORMAT: 'human', [name]: url };
      if (name === 'REDIS_URL') env.DATABASE_URL = database;
      for (const json of [false, true]) {
        const r = await runCli(json ? [...args, '--json'] : [...args], { env });
        const output = r.stdout + r.stderr;
        const secret = password.replace(/%25/g, '%');
        t.false(output.includes(password), `${name} with ${password}: ${output}`);
        t.false(output.includes(secret.slice(1)), `${name} with ${password}: ${output}`);
        t.false(/\n\s+at /.test(r.stderr), r.stderr);
        if (/[/#]|%(?!25)/.test(password)) {
          t.is(r.code, 2, `${name} ${password}: ${r.stderr}`);
          t.regex(output, new RegExp(`${name}: the password holds`), output);
        } else {
          t.not(r.code, 0);
          t.regex(output, name === 'DATABASE_URL' ? /cannot connect to the database postgres:\/\/root:\*\*\*@127\.0\.0\.1/ : /Redis redis:\/\/root:\*\*\*@127\.0\.0\.1/, output);
        }
      }
    }
  }
});

test('an SQLite file this user may not write, or one that is not SQLite, is one line saying what to do (exit 1), not an unexpected failure', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'db.sqlite');
  t.is((await runCli(['migrate'], { env: { DATABASE_URL: `sqlite:${file}` } })).code, 0);
  chmodSync(file, 0o644);
  // Root writes any file: run the CLI as nobody, who may read this one but not write it.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : (chmodSync(file, 0o444), chmodSync(dir, 0o555), {});
  t.teardown(() => chmodSync(dir, 0o755));
  const env = { DATABASE_URL: `sqlite:${file}`, REDIS_URL: redisUrl };
  const r = await spawnCli(['notify-invalid', '--check-code', uuid, '--json'], { env, ...asUser });
  t.is(r.code, 1, r.stderr);
  const { error } = r.json<{ error: { code: string; message: string } }>();
  t.is(error.code, 'connection');
  t.regex(error.message, new RegExp(`^cannot (write|connect to) the (SQLite )?database sqlite:${file}.*readonly database.*: this user may not write the file, or the folder it is in`));
  t.regex(error.message, /point the database URL \(DATABASE_URL\) at a writable copy$/, 'names where the URL was set');
  const garbage = join(dir, 'garbage.sqlite');
  writeFileSync(garbage, 'not a database, '.repeat(64));
  const g = await runCli(['status', '--json'], { env: { DATABASE_URL: `sqlite:${garbage}` } });
  t.is(g.code, 1);
  t.regex(g.json<{ error: { message: string } }>().error.message, /file is not a database: check that the database URL names the SQLite file mtc-batch migrated$/);
});

test('a query string in the Redis URL is refused before anything connects (exit 2), and its password never shows', async (t) => {
  const port = await closedPort();
  const database = `sqlite:${join(tempDir(t), 'db.sqlite')}`;
  t.is((await runCli(['migrate'], { env: { DATABASE_URL: database } })).code, 0);
  for (const [args, env] of [
    [['--redis-url', `redis://127.0.0.1:${port}?password=TopSecret`], {}],
    [['--redis-url', `redis://127.0.0.1:${port}/3?db=4`], {}],
    [[], { REDIS_URL: `redis://127.0.0.1:${port}?tls=true&password=TopSecret` }],
  ] as const) {
    for (const json of [false, true]) {
      const r = await runCli(['status', ...args, ...(json ? ['--json'] : [])], { env: { DATABASE_URL: database, MTC_BATCH_LOG_FORMAT: 'human', ...env } });
      const output = r.stdout + r.stderr;
      t.is(r.code, 2, output);
      t.false(output.includes('TopSecret'), output);
      t.notRegex(output, /cannot connect|ECONNREFUSED/, 'refused before connecting');
      const where = args.length > 0 ? '--redis-url' : 'REDIS_URL';
      t.true(output.includes(`${where} must not hold a query string or fragment`), output);
      if (json) t.like(r.json(), { error: { code: 'config', exitCode: 2 } });
    }
  }
});

eachDialect('a Redis database number is checked: a bad one exits 2 naming REDIS_URL before anything is done', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const base = new URL(redisUrl);
  for (const db of ['-1', 'abc', '1.5']) {
    const r = await runCli(['dispatch'], { env: { ...f.env, REDIS_URL: `redis://${base.host}/${db}`, MTC_BATCH_LOG_FORMAT: 'human' } });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /REDIS_URL names the database .*: the path must be a database number/);
  }
  for (const db of ['16', '99']) {
    const r = await runCli(['status'], { env: { ...f.env, REDIS_URL: `redis://${base.host}/${db}`, MTC_BATCH_LOG_FORMAT: 'human' } });
    t.is(r.code, 2, r.stderr);
    // Named by where this value was set, the one place to change it.
    t.regex(r.stderr, new RegExp(`the Redis URL \\(REDIS_URL\\) redis://${base.host}/${db} names database ${db}, which the server does not have`));
    t.notRegex(r.stdout, /healthy/);
  }
  const flagged = await runCli(['status', '--redis-url', `redis://${base.host}/16`], { env: { ...f.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(flagged.code, 2, flagged.stderr);
  t.regex(flagged.stderr, new RegExp(`the Redis URL \\(--redis-url\\) redis://${base.host}/16 names database 16`));
  const ok = await runCli(['dispatch', '--json'], { env: { ...f.env, REDIS_URL: `redis://${base.host}/3` } });
  t.is(ok.code, 0, ok.stderr);
});

test('status against PostgreSQL with Redis down or refusing the password: the database part, exit 1, no crash', async (t) => {
  const tdb = await isolatedDatabase(t, 'postgres');
  t.is((await spawnCli(['migrate'], { env: tdb.env })).code, 0);
  const guarded = await ownRedis(t, { password: 'right' });
  const port = await closedPort();
  for (const url of [`redis://127.0.0.1:${port}`, `redis://:wrong@127.0.0.1:${guarded.port}`]) {
    const r = await spawnCli(['status', '--json'], { env: { ...tdb.env, REDIS_URL: url } });
    t.is(r.code, 1, r.stderr);
    oneClearLine(t, r.stderr, /"level":"info","msg":"finished"/);
    const status = r.json<{ queue: object; redis: { error: string }; healthy: boolean }>();
    t.deepEqual(status.queue, { queued: 0, dispatched: 0, processing: 0, failed: 0 });
    t.false(status.healthy);
    t.regex(status.redis.error, /ECONNREFUSED|WRONGPASS|invalid username-password/);
  }
});

test('a reader that goes away early (| head) is not a crash', async (t) => {
  const dir = tempDir(t);
  const env = { DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
  t.is((await runCli(['migrate'], { env })).code, 0);
  const lines = Array.from({ length: 5_000 }, (_, i) => JSON.stringify({ source: 'oob', courseId: uuid, memberIds: [uuid], n: i })).join('\n');
  writeFileSync(join(dir, 'in.jsonl'), lines);
  // 5,000 warnings on stderr, merged into a pipe whose reader leaves after one line.
  const r = await exec('bash', ['-c', `"${binPath}" enqueue --jsonl in.jsonl 2>&1 | head -1 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...env },
  });
  t.regex(r.stdout, /exit=6/, r.stderr);
  t.false(/EPIPE|Unhandled/.test(r.stdout + r.stderr), r.stdout + r.stderr);
});

test('output that cannot be written (a full disk) is said once on stderr, in the log format, with exit 1: no stack trace', async (t) => {
  const dir = tempDir(t);
  const r = await exec('bash', ['-c', `"${binPath}" migrate --json --log-format json >/dev/full; echo "exit=$?"`], {
    cwd: dir,
    env: { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` },
  });
  t.regex(r.stdout, /exit=1/, r.stderr);
  const lines = r.stderr.trim().split('\n');
  t.true(lines.every((l) => l.startsWith('{')), r.stderr);
  t.is(lines.filter((l) => /could not write the command's output to stdout \(ENOSPC\)/.test(l)).length, 1, r.stderr);
  // The finished record carries the real exit code.
  t.regex(lines.at(-1)!, /"msg":"finished".*"exitCode":1/, r.stderr);
  t.false(/\bat \S+ \(|throw err/.test(r.stderr), r.stderr);

  // On an error path (its --json error object is the output) and before any command runs
  // (--help): the same, in the format asked.
  for (const args of ['status --json --log-format json', '--help --log-format json']) {
    const e = await exec('bash', ['-c', `"${binPath}" ${args} >/dev/full; echo "exit=$?"`], {
      cwd: dir,
      env: { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'missing.sqlite')}` },
    });
    t.regex(e.stdout, /exit=1/, `${args}: ${e.stderr}`);
    const records = e.stderr.trim().split('\n');
    t.true(records.every((l) => l.startsWith('{')), `${args}: ${e.stderr}`);
    t.is(records.filter((l) => /could not write the command's output to stdout/.test(l)).length, 1, `${args}: ${e.stderr}`);
    if (args.startsWith('status')) t.regex(records.at(-1)!, /"msg":"finished".*"exitCode":1/, e.stderr);
  }
});

test('SIGHUP stops a command like SIGTERM, and says so, instead of ending it silently', async (t) => {
  const f = await rescopeFixture(t, 'sqlite');
  const child = spawnCli(['process', '--wait-seconds', '20', '--json', '--verbose'], { env: { ...f.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  await untilStderr(child, 'started from');
  child.child.kill('SIGHUP');
  const r = await child;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /received SIGHUP: stopping after the current work/);
  t.like(r.json(), { stoppedBy: 'signal' });
});

test('a second stop signal exits at once (130), and --json still prints one object saying so', async (t) => {
  const f = await rescopeFixture(t, 'sqlite');
  // Redis two seconds away each way: the command is busy connecting when the signals come.
  const redis = new URL(redisUrl);
  const link = await startTcpProxy({ targetHost: redis.hostname, targetPort: Number(redis.port), delayMs: 2_000 });
  t.teardown(() => link.close());
  const child = spawnCli(['process', '--json'], { env: { ...f.env, REDIS_URL: link.url(), MTC_BATCH_LOG_FORMAT: 'human' } });
  await untilConnected(link);
  child.child.kill('SIGINT');
  await untilStderr(child, 'received SIGINT: stopping after the current work');
  child.child.kill('SIGINT');
  const r = await child;
  t.is(r.code, 130, r.stderr);
  t.regex(r.stderr, /received SIGINT again: exiting now/);
  t.deepEqual(r.json(), { error: { code: 'interrupted', message: 'received SIGINT again: exiting now; unfinished rows return to the queue when their lease expires', exitCode: 130 } });

  // In the JSON log format the notices are log records like every other line.
  const quiet = spawnCli(['process', '--json'], { env: { ...f.env, REDIS_URL: link.url(), MTC_BATCH_LOG_FORMAT: 'json' } });
  await untilConnected(link, link.forwardedBytes);
  quiet.child.kill('SIGTERM');
  await untilStderr(quiet, 'received SIGTERM: stopping after the current work');
  quiet.child.kill('SIGTERM');
  const q = await quiet;
  t.is(q.code, 143, q.stderr);
  for (const line of q.stderr.split('\n').filter((l) => l !== '')) t.notThrows(() => JSON.parse(line), line);
  t.regex(q.stderr, /"level":"error","msg":"received SIGTERM again: exiting now/);
});

async function untilConnected(link: { readonly forwardedBytes: number }, before = 0): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (link.forwardedBytes === before) {
    if (Date.now() > deadline) throw new Error('the command never connected to Redis');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

eachDialect('a bus key that holds another kind of value is a configuration error naming the key and its settings (exit 2)', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  await f.redis.client.set(f.bus.key, 'not a list');
  for (const command of ['dispatch', 'process']) {
    const r = await runCli([command], { env: { ...f.env, MTC_BATCH_LOG_FORMAT: 'human' } });
    t.is(r.code, 2, `${command}: ${r.stderr}`);
    t.true(r.stderr.includes(`the bus key ${f.bus.key} holds another kind of value than a list of queue row ids: another program uses the same name; give mtc-batch a key of its own (MTC_BATCH_BUS_KEY, --bus-key`), r.stderr);
    t.notRegex(r.stderr, /unexpected failure/);
  }
  t.is(await f.redis.client.get(f.bus.key), 'not a list', 'left as it was');
});

test('warnings from the libraries are log records in the log format, not plain text on stderr', async (t) => {
  const f = await rescopeFixture(t, 'sqlite');
  const server = new URL(redisUrl);
  // A password sent to a server that wants none: ioredis warns on its own.
  const r = await spawnCli(['status', '--json'], { env: { ...f.env, REDIS_URL: `redis://:unneeded@${server.host}`, MTC_BATCH_LOG_FORMAT: 'json' } });
  t.is(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  for (const line of lines) t.notThrows(() => JSON.parse(line), line);
  const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((rec) => String(rec.msg).includes('does not require a password'));
  t.like(warning, { level: 'warn', from: 'library', command: 'status' });
});
