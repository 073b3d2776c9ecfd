/**
 * overdue-sync's pass on one server as one transaction, sent on a second connection while
 * the query runs (streamed-pass.ts): the protocol pieces it writes and reads, that the
 * connection opens like the client's (password, user, database, TLS), and that whatever
 * stops the transaction before EXEC (a connection that will not open, a user refused MULTI,
 * the run's own lock renewal) leaves nothing written and the scripts write the pass instead.
 */
import { execFileSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { RedisConnectionLost, lostConnection } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { overdueSync } from '../src/notifications/overdue-sync.js';
import { StreamedPass } from '../src/notifications/streamed-pass.js';
import { RawRedisConnection, RedisReplyError, parseReply, resp } from '../src/redis/raw-connection.js';
import { type RedisClient, openRedis } from '../src/redis/redis.js';
import { seedOverdueSchools } from '../src/seed/mtc-world.js';
import { eachDialect } from './helpers/databases.js';
import { type NotificationFixture, notificationFixture, readLikeMtc } from './helpers/notifications.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { closedPort } from './helpers/net.js';
import { jobAclRules } from './helpers/redis-acl.js';
import { ownRedis } from './helpers/redis-server.js';

const now = new Date('2026-03-02T10:00:00.000Z');

/** A logger keeping its records, for the lines a run must (or must not) write. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const log = {
    lines,
    format: 'json' as const,
    debug: (msg: string) => void lines.push({ level: 'debug', msg }),
    info: (msg: string) => void lines.push({ level: 'info', msg }),
    warn: (msg: string) => void lines.push({ level: 'warn', msg }),
    error: (msg: string) => void lines.push({ level: 'error', msg }),
    child: () => log,
  };
  return log;
}

const oneTransaction = /redis wrote \d+ entries in one transaction/;
const throughScripts = /writing the entries through Lua scripts instead of one transaction: (.*)/;

/** Every seeded school has its entry (read as MTC reads it) and its place in the index; the run left no keys of its own. */
async function assertWritten(t: ExecutionContext, client: Redis, f: NotificationFixture, schools: readonly string[]): Promise<void> {
  const values = await client.mget(schools.map((s) => f.key(s)));
  t.is(values.filter((v) => v !== null).length, schools.length, 'every school has its entry');
  for (const [i, value] of values.entries()) t.is((readLikeMtc(value!) as { schoolUUID: string }).schoolUUID, schools[i]);
  const ttl = await client.ttl(f.key(schools[0]!));
  t.true(ttl > 3_800 && ttl <= 3_900, String(ttl));
  t.deepEqual((await client.smembers(f.options.notificationIndexKey)).sort(), [...schools].sort());
  for (const suffix of [':lock', ':journal', ':next']) t.is(await client.exists(`${f.options.notificationIndexKey}${suffix}`), 0, suffix);
}

test('resp writes byte lengths, not string lengths', (t) => {
  t.is(resp(['SET', 'clé', 12]), '*3\r\n$3\r\nSET\r\n$4\r\nclé\r\n$2\r\n12\r\n');
});

test('parseReply reads every reply type, and waits for a reply cut anywhere', (t) => {
  const text = '+OK\r\n-ERR wrong\r\n:42\r\n$-1\r\n$5\r\nhé\r\n\r\n*-1\r\n*3\r\n:1\r\n*0\r\n$3\r\nabc\r\n+OKAY\r\n:-7\r\n:123456789012345678\r\n+QUEUED\r\n';
  const buf = Buffer.from(text);
  const replies = [];
  let pos = 0;
  while (pos < buf.length) {
    const parsed = parseReply(buf, pos)!;
    replies.push(parsed.reply);
    pos = parsed.next;
  }
  t.is(replies.length, 11);
  t.is(replies[0], 'OK');
  t.true(replies[1] instanceof RedisReplyError);
  t.is((replies[1] as Error).message, 'ERR wrong');
  t.deepEqual(replies.slice(2), [42, null, 'hé\r\n', null, [1, [], 'abc'], 'OKAY', -7, 123456789012345678, 'QUEUED']);
  // Cut at every byte: never a wrong reply, only "not yet".
  for (let cut = 0; cut < buf.length; cut++) {
    const part = buf.subarray(0, cut);
    let at = 0;
    for (;;) {
      const parsed = parseReply(part, at);
      if (!parsed) break;
      at = parsed.next;
    }
    t.true(at <= cut);
  }
  t.throws(() => parseReply(Buffer.from('?what\r\n'), 0), { message: /unexpected byte/ });
});

eachDialect('on one server the pass is one transaction: every entry, the index, nothing of the run left', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  // More than one chunk of a thousand schools.
  const schools = await seedOverdueSchools(f.db, 2_300, 1, now);
  const log = recordingLogger();
  const result = await overdueSync(f.db, f.redis.client, { ...f.options, now, log });
  t.like(result, { schools: 2_300, removed: 0 });
  t.true(log.lines.some((l) => oneTransaction.test(l.msg)), JSON.stringify(log.lines));
  t.false(log.lines.some((l) => throughScripts.test(l.msg)));
  await assertWritten(t, f.redis.client as Redis, f, schools);

  // The next run removes the entries of schools that stopped qualifying, in the same transaction.
  await f.db.knex('check').update({ received: true }).whereIn('pupil_id', f.db.knex('pupil').select('id').whereIn('school_id', f.db.knex('school').select('id').whereIn('urlSlug', schools.slice(0, 300))));
  t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now, log }), { schools: 2_000, removed: 300 });
  await assertWritten(t, f.redis.client as Redis, f, schools.slice(300));
  t.is(await f.redis.client.exists(f.key(schools[0]!)), 0);
});

eachDialect('a second connection that cannot be opened: nothing is lost, the scripts write the pass', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  const schools = await seedOverdueSchools(f.db, 1_500, 1, now);
  const client = new Redis(f.redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  await client.ping();
  // The client is connected; a new connection to where it points goes nowhere.
  client.options.port = await closedPort();
  const log = recordingLogger();
  t.like(await overdueSync(f.db, client, { ...f.options, now, log }), { schools: 1_500 });
  const why = log.lines.map((l) => throughScripts.exec(l.msg)?.[1]).find(Boolean);
  t.regex(why ?? '', /cannot use a second connection to Redis: .*ECONNREFUSED/);
  t.false(log.lines.some((l) => l.level === 'warn'), 'a debug line, not a warning');
  await assertWritten(t, f.redis.client as Redis, f, schools);
});

eachDialect("the run's own lock renewal between WATCH and EXEC: the transaction does nothing, the scripts write it", async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  const schools = await seedOverdueSchools(f.db, 1_200, 1, now);
  const lock = `${f.options.notificationIndexKey}:lock`;
  const log = recordingLogger();
  const result = await overdueSync(f.db, f.redis.client, {
    ...f.options,
    now,
    log,
    hooks: { beforeRemoval: async () => void (await f.redis.client.pexpire(lock, 60_000)) },
  });
  t.like(result, { schools: 1_200 });
  t.regex(log.lines.map((l) => throughScripts.exec(l.msg)?.[1]).find(Boolean) ?? '', /the lock was touched/);
  await assertWritten(t, f.redis.client as Redis, f, schools);
});

test('a password, a user and a numbered database: the second connection opens as the client did', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  const server = await ownRedis(t, { password: 'admin-secret' });
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => admin.disconnect());
  await admin.acl('SETUSER', 'jobs', 'reset', 'on', '>jobs-secret', '~*', '+@all');
  const schools = await seedOverdueSchools(f.db, 50, 1, now);
  const client = new Redis(`redis://jobs:jobs-secret@127.0.0.1:${server.port}/3`, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  const log = recordingLogger();
  t.like(await overdueSync(f.db, client, { ...f.options, now, log }), { schools: 50 });
  t.true(log.lines.some((l) => oneTransaction.test(l.msg)), JSON.stringify(log.lines));
  await assertWritten(t, client, f, schools);
  t.is(await admin.dbsize(), 0, 'nothing in database 0');

  // A wrong password for the second connection alone: refused, nothing written by it.
  client.options.password = 'wrong';
  await t.throwsAsync(RawRedisConnection.open(client, 2_000), { message: /WRONGPASS|invalid username-password/ });
});

/**
 * A redis-server of the test's own with a user "jobs" holding the README's ACL rules (less
 * `refused`), its admin connection, and the jobs' client opened as the jobs open it (no
 * INFO ready check, which this user is refused); 40 overdue schools seeded.
 */
async function asJobsUser(t: ExecutionContext, f: NotificationFixture, refused?: string): Promise<{ admin: Redis; client: RedisClient; schools: string[] }> {
  const server = await ownRedis(t);
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => admin.disconnect());
  const keys = { notificationPrefix: f.options.notificationPrefix, notificationIndexKey: f.options.notificationIndexKey, busKey: 'bus', sessionPrefix: 'session:' };
  await admin.acl('SETUSER', 'jobs', 'reset', 'on', '>jobs-secret', ...jobAclRules(keys).filter((rule) => rule !== refused));
  await admin.acl('LOG', 'RESET');
  const schools = await seedOverdueSchools(f.db, 40, 1, now);
  const handle = await openRedis({ redisUrl: `redis://jobs:jobs-secret@127.0.0.1:${server.port}` });
  t.teardown(() => handle.close());
  return { admin, client: handle.client, schools };
}

test('a user refused MULTI: a warning naming the grant, and the scripts write the pass', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  const { admin, client, schools } = await asJobsUser(t, f, '+multi');
  const log = recordingLogger();
  t.like(await overdueSync(f.db, client, { ...f.options, now, log }), { schools: 40 });
  const warning = log.lines.find((l) => l.level === 'warn');
  t.regex(warning?.msg ?? '', /Redis refused the transaction: NOPERM.*multi.*\+watch \+multi \+exec/s);
  await assertWritten(t, admin, f, schools);
});

test('the README user is not refused: the transaction runs as it', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  const { admin, client, schools } = await asJobsUser(t, f);
  const log = recordingLogger();
  await overdueSync(f.db, client, { ...f.options, now, log });
  t.true(log.lines.some((l) => oneTransaction.test(l.msg)), JSON.stringify(log.lines));
  t.deepEqual(await admin.acl('LOG'), []);
  await assertWritten(t, admin, f, schools);
});

/** A redis-server of the test's own serving TLS with a self-signed certificate for "localhost". */
async function tlsRedis(t: ExecutionContext): Promise<{ port: number; plainUrl: string; certFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  const port = await closedPort();
  const server = await ownRedis(t, { args: ['--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', certFile, '--tls-auth-clients', 'no'] });
  return { port, plainUrl: server.url, certFile };
}

test('TLS (rediss://): the second connection uses the client\'s TLS options', async (t) => {
  const server = await tlsRedis(t);
  const f = await notificationFixture(t, 'sqlite');
  const schools = await seedOverdueSchools(f.db, 30, 1, now);
  const client = new Redis(`rediss://localhost:${server.port}`, { maxRetriesPerRequest: 1, tls: { ca: readFileSync(server.certFile) } });
  t.teardown(() => client.disconnect());
  const log = recordingLogger();
  t.like(await overdueSync(f.db, client, { ...f.options, now, log }), { schools: 30 });
  t.true(log.lines.some((l) => oneTransaction.test(l.msg)), JSON.stringify(log.lines));
  const plain = new Redis(server.plainUrl, { maxRetriesPerRequest: 1 });
  t.teardown(() => plain.disconnect());
  await assertWritten(t, plain, f, schools);
});

test('TLS from the command line (the program as cron runs it, from its start-up snapshot)', async (t) => {
  const server = await tlsRedis(t);
  const f = await notificationFixture(t, 'sqlite');
  const schools = await seedOverdueSchools(f.db, 30, 1, now);
  const r = await spawnCli(['overdue-sync', '--json', '--verbose'], {
    env: { ...f.env, REDIS_URL: `rediss://localhost:${server.port}`, NODE_EXTRA_CA_CERTS: server.certFile, MTC_BATCH_LOG_FORMAT: 'json' },
  });
  t.is(r.code, 0, r.stderr);
  t.like(r.json(), { schools: 30 });
  t.regex(r.stderr, /started from the start-up snapshot/);
  t.regex(r.stderr, oneTransaction);
  const plain = new Redis(server.plainUrl, { maxRetriesPerRequest: 1 });
  t.teardown(() => plain.disconnect());
  await assertWritten(t, plain, f, schools);
});

test('a prefix that is not ASCII: lengths in bytes, entries under the right keys', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  const options = { ...f.options, notificationPrefix: `${f.options.notificationPrefix}écoles→` };
  const schools = await seedOverdueSchools(f.db, 1_100, 1, now);
  const log = recordingLogger();
  t.like(await overdueSync(f.db, f.redis.client, { ...options, now, log }), { schools: 1_100 });
  t.true(log.lines.some((l) => oneTransaction.test(l.msg)));
  await assertWritten(t, f.redis.client as Redis, { ...f, options, key: (s) => `${options.notificationPrefix}${s}` }, schools);
});

test('a prefix that is not ASCII, when the scripts write the pass: the entries are read back from the bytes sent', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  const options = { ...f.options, notificationPrefix: `${f.options.notificationPrefix}écoles→` };
  const schools = await seedOverdueSchools(f.db, 1_100, 1, now);
  const log = recordingLogger();
  const lock = `${f.options.notificationIndexKey}:lock`;
  const hooks = { beforeRemoval: async () => void (await f.redis.client.pexpire(lock, 60_000)) };
  t.like(await overdueSync(f.db, f.redis.client, { ...options, now, log, hooks }), { schools: 1_100 });
  t.true(log.lines.some((l) => throughScripts.test(l.msg)));
  await assertWritten(t, f.redis.client as Redis, { ...f, options, key: (s) => `${options.notificationPrefix}${s}` }, schools);
});

eachDialect('the index key holding another kind of value: the transaction is not begun, nothing written, the same error as the scripts give', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  await seedOverdueSchools(f.db, 20, 1, now);
  await f.redis.client.set(f.options.notificationIndexKey, 'not a set');
  const err = await t.throwsAsync(overdueSync(f.db, f.redis.client, { ...f.options, now }));
  t.regex(err?.message ?? '', /^WRONGTYPE the key .*\{overdue\}:notified holds a string, not a set$/);
  t.deepEqual(await f.redis.keys(), [f.options.notificationIndexKey], 'no entry, no "next", no lock left');
});

test('the index key holding another kind of value, on the command line: exit 2 naming the setting', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  await seedOverdueSchools(f.db, 5, 1, now);
  await f.redis.client.rpush(`${f.options.notificationIndexKey}:journal`, 'x');
  await f.redis.client.set(`${f.options.notificationIndexKey}:next`, 'x');
  const r = await spawnCli(['overdue-sync', '--json'], { env: f.env });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stdout, /holds a string, not a set.*give mtc-batch a key of its own \(MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey\)"/);
});

test('the second connection lost after EXEC was sent: a lost connection (all or nothing ran, which is unknown), not a bug', async (t) => {
  // A server that answers like Redis until EXEC, then hangs up.
  const token = 'the-run';
  const server = createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseReply(pending, 0);
        if (!parsed) break;
        pending = pending.subarray(parsed.next);
        const [name] = parsed.reply as string[];
        const replies: Record<string, string> = { PING: '+PONG\r\n', WATCH: '+OK\r\n', GET: `$${token.length}\r\n${token}\r\n`, TYPE: '+none\r\n', MULTI: '+OK\r\n' };
        if (name === 'EXEC') {
          socket.destroy();
          return;
        }
        socket.write(replies[name!] ?? '+QUEUED\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const client = { options: { host: '127.0.0.1', port } } as unknown as Redis;
  const pass = new StreamedPass(client, { indexKey: '{x}:notified', prefix: 'x:', token, ttlSeconds: 60, lockMs: 60_000, connectTimeoutMs: 2_000 });
  pass.add('s1', 'x:s1', '{"a":1}');
  const err = await t.throwsAsync(pass.commit(1, () => new Error('lock lost')));
  t.true(err instanceof RedisConnectionLost, String(err));
  t.regex(err?.message ?? '', /after its transaction was sent, so whether the transaction ran \(all of it, or none\) is unknown/);
  t.deepEqual(lostConnection(err)?.service, 'redis');
});

eachDialect("another program's hash under the journal's name: refused (the same configuration error), and left as it was", async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  await seedOverdueSchools(f.db, 5, 1, now);
  const journal = `${f.options.notificationIndexKey}:journal`;
  await f.redis.client.hset(journal, 'owner', 'another program');
  const err = await t.throwsAsync(overdueSync(f.db, f.redis.client, { ...f.options, now }));
  t.regex(err?.message ?? '', /^WRONGTYPE the key .*:journal holds a hash, not a list$/);
  t.deepEqual(await f.redis.client.hgetall(journal), { owner: 'another program' });
  t.is(await f.redis.client.ttl(journal), -1, 'its lifetime untouched too');
  t.deepEqual((await f.redis.keys()).sort(), [journal], 'no entry, index, "next" or lock left');
});

/** Writes another program's value of `type` under `key`, without a lifetime. */
async function foreignValue(client: RedisClient, key: string, type: 'string' | 'list' | 'hash' | 'set'): Promise<void> {
  if (type === 'string') await client.set(key, 'another program');
  else if (type === 'list') await client.rpush(key, 'another', 'program');
  else if (type === 'hash') await client.hset(key, 'owner', 'another program');
  else await client.sadd(key, 'another program');
}

/** What `key` holds, whatever its type, to compare before and after a run. */
async function snapshotOf(client: RedisClient, key: string): Promise<unknown> {
  const type = await client.type(key);
  const value = type === 'string' ? await client.get(key) : type === 'list' ? await client.lrange(key, 0, -1) : type === 'hash' ? await client.hgetall(key) : type === 'set' ? (await client.smembers(key)).sort() : null;
  return { type, value, ttl: await client.ttl(key) };
}

eachDialect("another program's list or hash under the last-run key's name: refused before the transaction (the same configuration error as the other keys), nothing written, the value left as it was", async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  await seedOverdueSchools(f.db, 5, 1, now);
  const lastRun = `${f.options.notificationIndexKey}:last-run`;
  for (const type of ['list', 'hash'] as const) {
    await f.redis.client.del(lastRun);
    await foreignValue(f.redis.client, lastRun, type);
    const before = await snapshotOf(f.redis.client, lastRun);
    const log = recordingLogger();
    const err = await t.throwsAsync(overdueSync(f.db, f.redis.client, { ...f.options, now, log }));
    t.is(err?.message, `WRONGTYPE the key ${lastRun} holds a ${type}, not a string`);
    t.false(log.lines.some((l) => throughScripts.test(l.msg)), 'refused, not passed to the scripts');
    t.deepEqual(await snapshotOf(f.redis.client, lastRun), before, type);
    t.deepEqual(await f.redis.keys(), [lastRun], `${type}: no entry, index, "next" or lock left`);
  }
});

test('the last-run key holding another kind of value, on the command line: exit 2 naming the key, nothing written', async (t) => {
  const f = await notificationFixture(t, 'sqlite');
  await seedOverdueSchools(f.db, 5, 1, now);
  const lastRun = `${f.options.notificationIndexKey}:last-run`;
  await foreignValue(f.redis.client, lastRun, 'hash');
  const r = await runCli(['overdue-sync', '--json'], { env: f.env });
  t.is(r.code, 2, r.stderr);
  const { error } = r.json<{ error: { message: string; exitCode: number } }>();
  t.is(error.exitCode, 2);
  t.true(error.message.includes(`the key ${lastRun} holds a hash, not a string`), error.message);
  t.regex(error.message, /give mtc-batch a key of its own \(MTC_BATCH_NOTIFICATION_INDEX_KEY, --notification-index-key or a config file's notificationIndexKey\)$/);
  t.deepEqual(await f.redis.client.hgetall(lastRun), { owner: 'another program' });
  t.deepEqual(await f.redis.keys(), [lastRun]);
});

eachDialect('when the scripts write the pass (one server, no transaction): a bookkeeping key of another type is refused in the first script, and nothing is written', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  await seedOverdueSchools(f.db, 2_500, 1, now);
  const index = f.options.notificationIndexKey;
  const cases = [
    { key: index, type: 'string', expected: 'set' },
    { key: `${index}:next`, type: 'string', expected: 'set' },
    { key: `${index}:journal`, type: 'hash', expected: 'list' },
    { key: `${index}:last-run`, type: 'list', expected: 'string' },
    { key: `${index}:last-run`, type: 'hash', expected: 'string' },
  ] as const;
  const client = new Redis(f.redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  await client.ping();
  // The client is connected; a new connection to where it points goes nowhere, so the run
  // takes the scripts' way.
  client.options.port = await closedPort();
  for (const c of cases) {
    const what = `${c.key} holding a ${c.type}`;
    await foreignValue(f.redis.client, c.key, c.type);
    const before = await snapshotOf(f.redis.client, c.key);
    const log = recordingLogger();
    const err = await t.throwsAsync(overdueSync(f.db, client, { ...f.options, now, log }));
    t.true(log.lines.some((l) => throughScripts.test(l.msg)), `${what}: the scripts' way`);
    t.is(err?.message, `WRONGTYPE the key ${c.key} holds a ${c.type}, not a ${c.expected}`, what);
    t.deepEqual(await snapshotOf(f.redis.client, c.key), before, what);
    t.deepEqual(await f.redis.keys(), [c.key], `${what}: no entry, index, "next" or lock left`);
    await f.redis.client.del(c.key);
  }
  // With the keys its own again, the same run writes the pass.
  t.like(await overdueSync(f.db, client, { ...f.options, now }), { schools: 2_500 });
});

test('a cluster that is down under a job is a lost Redis connection, whichever way it shows', (t) => {
  for (const message of [
    'ERR Script attempted to execute a command while the cluster is down script: 65dc13ae, on @user_script:7.',
    'CLUSTERDOWN The cluster is down',
    'Too many Cluster redirections. Last error: ReplyError: MOVED 12690 127.0.0.1:17002',
  ]) {
    t.is(lostConnection(new Error(message))?.service, 'redis', message);
  }
  t.is(lostConnection(new RedisConnectionLost('no node of the cluster is known to serve k (slot 1)'))?.reason, 'no node of the cluster is known to serve k (slot 1)');
});
