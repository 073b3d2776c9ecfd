import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { demoApplicationId } from '../src/cli/demo.js';
import { clearDemoKeys, demoSettings, demoTokens } from '../src/demo/demo.js';
import { tokenFromAuthorization } from '../src/rescope/sessions.js';
import { groupByNode, scanKeys } from '../src/redis/nodes.js';
import type { RedisClient } from '../src/redis/redis.js';
import { spawnCli } from './helpers/cli.js';
import { type RedisKind, clusterTests, isolatedRedis, redisUrl, useRedisCluster } from './helpers/redis.js';
import { ownRedis } from './helpers/redis-server.js';
import { closedPort } from './helpers/net.js';

useRedisCluster();

// The demo's keys have a fixed prefix (demo:), so this test gives it a logical database
// of its own instead of a key prefix.
const demoRedisUrl = `${redisUrl.replace(/\/\d*$/, '')}/14`;

/** A directory for one test's demo files, removed when the test ends. */
function demoDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('demo runs every step on a fresh file and explains itself; its by-hand commands work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-demo-'));
  const redis = new Redis(demoRedisUrl);
  t.teardown(async () => {
    const keys = await redis.keys('demo:*');
    if (keys.length > 0) await redis.unlink(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'demo.sqlite');
  const env = { REDIS_URL: demoRedisUrl };
  const r = await spawnCli(['demo', '--file', file], { env });
  t.is(r.code, 0, r.stderr);
  for (const expected of [
    /queued 3 learners, 2 already queued; Year 6 maths \(rescope off\): nothing queued/,
    /process {3}→ 3 learners rescoped/,
    /Ada {2}may skip unit 1, item 2\.1\.1 \(5 items in all\)/,
    /Ben {2}may skip lesson 1\.1 \(2 items in all\)/,
    /Cat {2}may skip nothing yet/,
    /forbidden: the caller Ben is neither the learner nor a teacher or co-teacher of class Year 5 maths/,
    /Oak Primary: overdue: Olu's check/,
    /Elm Primary: processing error: pupil Eve \(Elm\)/,
    /Ash Primary: no entry/,
    /Elm Primary lists pupil Eli \(Elm\) and pupil Eve \(Elm\)/,
    /status: healthy/,
  ]) {
    t.regex(r.stdout, expected);
  }
  const configFile = join(dir, 'demo.json');
  t.true(existsSync(configFile));

  // The printed commands, run as printed.
  const byHand = r.stdout.split('\n').filter((l) => l.startsWith('  npx mtc-batch ')).map((l) => l.trim().replace(/^npx mtc-batch /, '').split(' && ')[0]!.split(' '));
  t.true(byHand.length >= 6);
  const showTeacher = byHand.find((args) => args.includes(demoTokens.teacher))!;
  const found = await spawnCli([...showTeacher, '--json'], { env });
  t.is(found.code, 0, found.stderr);
  t.like(found.json(), { status: 'found' });
  const showBen = byHand.find((args) => args.includes(demoTokens.ben))!;
  t.is((await spawnCli(showBen, { env })).code, 4);
  // The enqueue line (Cat, who has content) is computed again, not skipped as already done.
  const enqueueLine = byHand.find((args) => args[0] === 'enqueue')!;
  const requeue = enqueueLine.slice(0, enqueueLine.includes('#') ? enqueueLine.indexOf('#') : undefined).filter((arg) => arg !== '');
  const requeued = await spawnCli(requeue, { env });
  t.is(requeued.code, 0, `${requeue.join(" ")}: ${requeued.stderr}`);
  t.is((await spawnCli(['dispatch', '--config', configFile], { env })).code, 0);
  const reprocessed = await spawnCli(['process', '--config', configFile, '--json'], { env });
  t.like(reprocessed.json(), { processed: 1, alreadyDone: 0 });
  // The notify-invalid line repeats the demo's own step (Eli's check, already marked): a replay.
  const echoed = r.stdout.split('\n').find((l) => l.includes('| npx mtc-batch notify-invalid'))!;
  const message = /echo '([^']+)'/.exec(echoed)![1]!;
  const checkCode = String((JSON.parse(message) as { checkCode: string }).checkCode);
  const sqlite = new Database(file, { readonly: true });
  const marked = sqlite.prepare('SELECT "processingFailed" AS failed FROM "check" WHERE "checkCode" = ?').get(checkCode) as { failed: number } | undefined;
  sqlite.close();
  t.is(marked?.failed, 1, 'the printed message names the check the demo marked');
  const replay = await spawnCli(['notify-invalid', '--config', configFile, '--jsonl', '-', '--json'], { env, stdin: `${message}\n` });
  t.is(replay.code, 0, replay.stderr);
  t.like(replay.json(), { handled: 1, schools: 1 });
  const status = await spawnCli(['status', '--config', configFile, '--json'], { env });
  t.like(status.json(), { rescopedContent: 3, healthy: true, redis: { notifications: 2 } });

  // A second run replaces the file and the keys: same story, one JSON object.
  const again = await spawnCli(['demo', '--file', file, '--json'], { env });
  t.is(again.code, 0, again.stderr);
  t.like(again.json(), { processed: 3, healthy: true, notifyInvalid: { handled: 1, schools: 1 } });
});

test('demo never replaces a file it did not make', async (t) => {
  const dir = demoDir(t);
  const file = join(dir, 'precious.sqlite');
  writeFileSync(file, 'not mine');
  const r = await spawnCli(['demo', '--file', file], { env: { REDIS_URL: demoRedisUrl } });
  t.is(r.code, 2);
  t.regex(r.stderr, /exists and is not an SQLite database/);
  const migrated = join(dir, 'real.sqlite');
  t.is((await spawnCli(['migrate'], { env: { DATABASE_URL: `sqlite:${migrated}` } })).code, 0);
  const refused = await spawnCli(['demo', '--file', migrated], { env: { REDIS_URL: demoRedisUrl } });
  t.is(refused.code, 2);
  t.regex(refused.stderr, /was not made by mtc-batch demo/);
  t.true(existsSync(migrated));

  // The settings file beside the database is not the demo's to overwrite either.
  for (const name of ['package', 'tsconfig']) {
    const theirs = join(dir, `${name}.json`);
    writeFileSync(theirs, '{"name":"mine"}\n');
    const r = await spawnCli(['demo', '--file', join(dir, `${name}.sqlite`)], { env: { REDIS_URL: demoRedisUrl } });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`writes its settings to .*${name}\\.json, which exists and was not made by mtc-batch demo`));
    t.is(readFileSync(theirs, 'utf8'), '{"name":"mine"}\n');
    t.false(existsSync(join(dir, `${name}.sqlite`)), 'nothing created');
  }
  // A database named like a settings file gets its settings beside it, not over it.
  // Its own Redis: the demo's keys are fixed (demo:), and another test runs a demo at the same time.
  const odd = join(dir, 'odd.json');
  const ok = await spawnCli(['demo', '--file', odd, '--json'], { env: { REDIS_URL: (await ownRedis(t)).url } });
  t.is(ok.code, 0, ok.stderr);
  t.like(ok.json(), { configFile: `${odd}.json` });
});

/** Each file in `dir`: its name, size, modification time and content. */
function listing(dir: string): Array<{ name: string; size: number; mtimeMs: number; sha1: string }> {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const path = join(dir, name);
      const { size, mtimeMs } = statSync(path);
      return { name, size, mtimeMs, sha1: createHash('sha1').update(readFileSync(path)).digest('hex') };
    });
}

test('a database the demo refuses is left exactly as it was: no -wal or -shm appear beside it', async (t) => {
  const dir = demoDir(t);
  // A migrated database is in WAL mode, and migrate leaves no -wal or -shm behind.
  const other = join(dir, 'other.sqlite');
  t.is((await spawnCli(['migrate'], { env: { DATABASE_URL: `sqlite:${other}` } })).code, 0);
  const before = listing(dir);
  t.deepEqual(before.map((f) => f.name), ['other.sqlite']);
  const refused = await spawnCli(['demo', '--file', other], { env: { REDIS_URL: demoRedisUrl } });
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /exists and was not made by mtc-batch demo/);
  t.deepEqual(listing(dir), before);
});

test("a -wal or -shm without its database (another database's) stops the demo, and is left as it was", async (t) => {
  const dir = demoDir(t);
  const file = join(dir, 'orphan.sqlite');
  writeFileSync(`${file}-wal`, 'another database\'s changes');
  const before = listing(dir);
  const r = await spawnCli(['demo', '--file', file], { env: { REDIS_URL: demoRedisUrl } });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /orphan\.sqlite-wal exists without .*orphan\.sqlite: it is another database's/);
  t.deepEqual(listing(dir), before);
});

test('a demo killed at any moment leaves no file, or one with its mark, and the next demo replaces it', async (t) => {
  const dir = demoDir(t);
  const file = join(dir, 'killed.sqlite');
  // Its own Redis: the demo's keys are fixed (demo:), and another test runs a demo at the same time.
  const env = { REDIS_URL: (await ownRedis(t)).url };
  for (const afterMs of [100, 200, 300, 400, 600, 900, 1300]) {
    const run = spawnCli(['demo', '--file', file], { env });
    setTimeout(() => run.child.kill('SIGKILL'), afterMs);
    await run;
    // The header is the mark's only place a refusal reads (a -wal is never opened).
    if (existsSync(file)) t.is(readFileSync(file).readInt32BE(68), demoApplicationId, `killed after ${afterMs} ms: the file has the demo's mark`);
  }
  const r = await spawnCli(['demo', '--file', file, '--json'], { env });
  t.is(r.code, 0, r.stderr);
  t.like(r.json(), { processed: 3, healthy: true });
});

test('the demo never writes a Redis password into its settings file', async (t) => {
  const dir = demoDir(t);
  const guarded = await ownRedis(t, { password: 'hunter2' });
  const file = join(dir, 'demo.sqlite');
  const r = await spawnCli(['demo', '--file', file], { env: { REDIS_URL: guarded.url } });
  t.is(r.code, 0, r.stderr);
  const saved = readFileSync(join(dir, 'demo.json'), 'utf8');
  t.false(saved.includes('hunter2'));
  t.false(r.stdout.includes('hunter2'));
  t.false('redisUrl' in (JSON.parse(saved) as object));
  t.regex(r.stdout, /\n {2}# REDIS_URL holds a password, which is not written in .*demo\.json: keep REDIS_URL set for these commands\n/);
  // The file still works as a config file (the marker is allowed), with REDIS_URL from the environment.
  const status = await spawnCli(['status', '--config', join(dir, 'demo.json'), '--json'], { env: { REDIS_URL: guarded.url } });
  t.is(status.code, 0, status.stderr);
});

test('a Redis URL with a password given by flag or config file: the demo says where it came from and how the by-hand commands reach that Redis', async (t) => {
  const dir = demoDir(t);
  const guarded = await ownRedis(t, { password: 'hunter2' });
  const url = `${guarded.url}/9`;
  const masked = `redis://:***@127.0.0.1:${guarded.port}/9`;
  const file = join(dir, 'demo.sqlite');
  const configFile = join(dir, 'demo.json');
  // No REDIS_URL anywhere: the URL comes from the flag alone.
  const r = await spawnCli(['demo', '--file', file, '--redis-url', url], { env: {} });
  t.is(r.code, 0, r.stderr);
  t.false(r.stdout.includes('hunter2'));
  t.false(readFileSync(configFile, 'utf8').includes('hunter2'));
  t.notRegex(r.stdout, /REDIS_URL holds a password/, 'REDIS_URL was never set');
  t.true(r.stdout.includes(`\n  # the Redis URL came from --redis-url and holds a password, which is not written in ${configFile}:\n`), r.stdout);
  t.true(r.stdout.includes(`  # set REDIS_URL='${masked}' (with the password in place of ***) for these commands, or add the same --redis-url to each, so they reach the same Redis\n`), r.stdout);
  // Either way the printed status reaches the Redis and database the demo used.
  const status = r.stdout.split('\n').find((l) => l.startsWith('  npx mtc-batch status '))!.trim().replace(/^npx mtc-batch /, '').split(' ');
  for (const [args, env] of [[[...status, '--json'], { REDIS_URL: url }], [[...status, '--redis-url', url, '--json'], {}]] as const) {
    const s = await spawnCli([...args], { env });
    t.is(s.code, 0, s.stderr);
    t.like(s.json(), { rescopedContent: 3, healthy: true, redis: { notifications: 2 } });
  }

  // From a config file of the operator's: named as such (the by-hand commands use the demo's file instead).
  const theirs = join(dir, 'mine.json');
  writeFileSync(theirs, JSON.stringify({ redisUrl: url }));
  const fromFile = await spawnCli(['demo', '--file', file, '--config', theirs], { env: {} });
  t.is(fromFile.code, 0, fromFile.stderr);
  t.true(fromFile.stdout.includes(`  # the Redis URL came from "redisUrl" in config file ${theirs} and holds a password, which is not written in ${configFile}:\n`), fromFile.stdout);
  t.true(fromFile.stdout.includes(`  # set REDIS_URL='${masked}' (with the password in place of ***) for these commands, so they reach the same Redis\n`), fromFile.stdout);
});

test('a Redis URL without a password given by flag is written to the settings file; a REDIS_URL that would override it is pointed out', async (t) => {
  const dir = demoDir(t);
  const own = await ownRedis(t);
  const url = `${own.url}/9`;
  const file = join(dir, 'demo.sqlite');
  const configFile = join(dir, 'demo.json');
  const other = `redis://127.0.0.1:${await closedPort()}`;
  const r = await spawnCli(['demo', '--file', file, '--redis-url', url], { env: { REDIS_URL: other } });
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(readFileSync(configFile, 'utf8')), { redisUrl: url });
  t.true(r.stdout.includes(`  # REDIS_URL is set to another Redis in this shell and overrides the file: unset it for these commands, so they reach ${url}\n`), r.stdout);
  const status = await spawnCli(['status', '--config', configFile, '--json'], { env: {} });
  t.is(status.code, 0, status.stderr);
  t.like(status.json(), { rescopedContent: 3, redis: { notifications: 2 } });
  // Without a REDIS_URL of another Redis there is nothing to add.
  const plain = await spawnCli(['demo', '--file', file, '--redis-url', url], { env: {} });
  t.is(plain.code, 0, plain.stderr);
  t.notRegex(plain.stdout, /\n {2}# /);
});

/** Every key under demo: on every node, sorted. */
async function demoKeys(client: RedisClient): Promise<string[]> {
  const found: string[] = [];
  for await (const page of scanKeys(client, 'demo:*')) found.push(...page.keys);
  return found.sort();
}

/**
 * Keys under demo: that the demo never writes, some named like its own: another program's.
 * Written as strings, a list and a set, and read back as they were.
 */
async function writeTheirs(client: RedisClient, settings: ReturnType<typeof demoSettings>): Promise<() => Promise<Record<string, unknown>>> {
  const strings = [
    'demo:someone-elses-key',
    `${settings.sessionPrefix}someone-elses-token`,
    `${settings.notificationPrefix}${randomUUID()}`,
    `${settings.notificationIndexKey}:other`,
  ];
  for (const key of strings) await client.set(key, `precious ${key}`);
  await client.rpush('demo:queue:jobs', 'job 1', 'job 2');
  await client.sadd(`${settings.busKey}:archive`, 'kept');
  return async () => ({
    ...Object.fromEntries(await Promise.all(strings.map(async (key) => [key, await client.get(key)]))),
    'demo:queue:jobs': await client.lrange('demo:queue:jobs', 0, -1),
    [`${settings.busKey}:archive`]: await client.smembers(`${settings.busKey}:archive`),
  });
}

test('demo removes only the Redis keys it wrote: another program\'s keys under demo: are left alone', async (t) => {
  const dir = demoDir(t);
  // Its own Redis: the demo's keys are fixed (demo:), and another test runs a demo at the same time.
  const own = await ownRedis(t);
  const redis = new Redis(own.url);
  t.teardown(() => redis.disconnect());
  const file = join(dir, 'demo.sqlite');
  const settings = demoSettings(file);
  const readTheirs = await writeTheirs(redis, settings);
  const theirs = await readTheirs();
  // A lock an earlier run left behind is the demo's: were it kept, overdue-sync would skip.
  await redis.set(`${settings.notificationIndexKey}:lock`, 'an earlier run', 'PX', 600_000);

  const first = await spawnCli(['demo', '--file', file], { env: { REDIS_URL: own.url } });
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /overdue-sync → 2 schools notified/);
  t.deepEqual(await readTheirs(), theirs);
  const notified = await redis.smembers(settings.notificationIndexKey);
  t.is(notified.length, 2);
  for (const school of notified) t.not(await redis.get(`${settings.notificationPrefix}${school}`), null);

  // A second run replaces the first's keys, and still no other.
  const again = await spawnCli(['demo', '--file', file, '--json'], { env: { REDIS_URL: own.url } });
  t.is(again.code, 0, again.stderr);
  t.deepEqual(await readTheirs(), theirs);
  for (const school of notified) t.is(await redis.get(`${settings.notificationPrefix}${school}`), null, 'the first run\'s entries are gone');
  t.true((await demoKeys(redis)).some((key) => !(key in theirs)), 'the second run\'s own keys are there');
  // Every key a run wrote is one the next run removes.
  await clearDemoKeys(redis, settings);
  t.deepEqual(await demoKeys(redis), Object.keys(theirs).sort());
});

const clearsOnly = test.macro({
  async exec(t: ExecutionContext, kind: RedisKind) {
    let client: RedisClient;
    if (kind === 'cluster') {
      client = (await isolatedRedis(t, 'cluster')).client;
      t.teardown(async () => {
        const keys = await demoKeys(client);
        for (const key of keys) await client.unlink(key);
      });
    } else {
      const own = await ownRedis(t);
      const single = new Redis(own.url);
      t.teardown(() => single.disconnect());
      client = single;
    }
    const settings = demoSettings('/nowhere/demo.sqlite');
    const index = settings.notificationIndexKey;
    const listed = [randomUUID(), randomUUID()];
    const inNext = randomUUID();
    const entry = (school: string) => `${settings.notificationPrefix}${school}`;
    // Every key an earlier demo run writes.
    const ours = [
      settings.busKey,
      ...Object.values(demoTokens).map((token) => `${settings.sessionPrefix}${token}`),
      ...[...listed, inNext].map(entry),
      index,
      `${index}:next`,
      `${index}:lock`,
      `${index}:journal`,
      `${index}:last-run`,
    ];
    await client.rpush(settings.busKey, '1', '2');
    for (const token of Object.values(demoTokens)) await client.set(`${settings.sessionPrefix}${token}`, '{"user_id":"x"}', 'EX', 3600);
    for (const school of [...listed, inNext]) await client.set(entry(school), '{}', 'EX', 3600);
    await client.sadd(index, ...listed);
    await client.sadd(`${index}:next`, inNext);
    await client.set(`${index}:lock`, 'token', 'PX', 600_000);
    await client.rpush(`${index}:journal`, `${listed[0]} ${randomUUID()}`);
    await client.set(`${index}:last-run`, new Date().toISOString());
    const readTheirs = await writeTheirs(client, settings);
    const theirs = await readTheirs();
    if (kind === 'cluster') t.true(groupByNode(client, ours, (key) => key).length > 1, 'the demo\'s keys live on more than one master');

    t.is(await clearDemoKeys(client, settings), ours.length);
    t.deepEqual(await demoKeys(client), Object.keys(theirs).sort());
    t.deepEqual(await readTheirs(), theirs);

    // A key of the demo's names holding another type than the demo writes there is not an
    // earlier run's: refused, naming it, before anything is removed.
    const session = `${settings.sessionPrefix}${demoTokens.ben}`;
    await client.rpush(settings.busKey, '1');
    for (const key of [session, index, `${index}:journal`, `${index}:lock`]) {
      await client.hset(key, 'owner', 'another program');
      await t.throwsAsync(clearDemoKeys(client, settings), { message: new RegExp(`^the Redis key ${key.replace(/[{}]/g, '\\$&')} holds a hash, not a `) });
      t.is(await client.type(key), 'hash', key);
      t.is(await client.type(settings.busKey), 'list', `${key}: nothing removed`);
      await client.unlink(key);
    }
    await client.unlink(settings.busKey);
  },
  title: (_: string | undefined, kind: RedisKind) => `clearDemoKeys removes the demo's keys and no other key under demo: (${kind})`,
});

test(clearsOnly, 'single');
(clusterTests ? test : test.skip)(clearsOnly, 'cluster');

test("the demo's tokens are ones the platform's clients can send to serve (Token <base64 text>)", (t) => {
  for (const token of Object.values(demoTokens)) t.is(tokenFromAuthorization(`Token ${token}`), token);
});

test("a key of the demo's names holding another kind of value stops the demo, named, with advice the demo can follow, and is left as it was", async (t) => {
  const dir = demoDir(t);
  const redis = await ownRedis(t);
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  const settings = demoSettings(join(dir, 'd.sqlite'));
  for (const key of [`${settings.sessionPrefix}${demoTokens.teacher}`, settings.busKey]) {
    await client.hset(key, 'owner', 'another program');
    const r = await spawnCli(['demo', '--file', join(dir, 'd.sqlite'), '--json'], { env: { REDIS_URL: redis.url } });
    t.is(r.code, 2, r.stderr);
    const { message } = r.json<{ error: { message: string } }>().error;
    t.true(message.includes(`the Redis key ${key} holds a hash, not a`), message);
    t.true(message.endsWith('the demo uses fixed key names under demo:, so remove that key if nothing else uses it, or give the demo another Redis (--redis-url or REDIS_URL)'), message);
    t.deepEqual(await client.hgetall(key), { owner: 'another program' });
    await client.del(key);
  }
});

test('two demos against one Redis: one runs, the other stops at once (exit 2) saying why; a killed demo on this machine does not hold the next one up', async (t) => {
  const dir = demoDir(t);
  const own = await ownRedis(t);
  const env = { REDIS_URL: own.url };
  const [a, b] = await Promise.all(['a', 'b'].map((name) => spawnCli(['demo', '--file', join(dir, `${name}.sqlite`), '--json'], { env })));
  t.deepEqual([a!.code, b!.code].sort(), [0, 2], `${a!.stderr}\n${b!.stderr}`);
  const refused = a!.code === 2 ? a! : b!;
  t.regex(refused.json<{ error: { message: string } }>().error.message, /^another demo is running against this Redis \(it holds demo:running for \d+ s more\): wait for it to finish, then run the demo again$/);
  const redis = new Redis(own.url);
  t.teardown(() => redis.disconnect());
  t.is(await redis.exists('demo:running'), 0, 'the lock is let go at the end');
  // Held by a process of this machine that is gone (a demo killed with SIGKILL): taken over.
  await redis.set('demo:running', `${hostname()} 4194303 gone`, 'PX', 30_000);
  const after = await spawnCli(['demo', '--file', join(dir, 'a.sqlite')], { env });
  t.is(after.code, 0, after.stderr);
  // Held by a live process: refused.
  await redis.set('demo:running', `${hostname()} ${process.pid} alive`, 'PX', 30_000);
  const held = await spawnCli(['demo', '--file', join(dir, 'a.sqlite')], { env });
  t.is(held.code, 2, held.stderr);
  t.regex(held.stderr, /another demo is running against this Redis/);
});

test('a Redis URL naming a database the server lacks: the demo names where that URL was set', async (t) => {
  const dir = demoDir(t);
  const base = redisUrl.replace(/\/\d*$/, '');
  for (const [args, env, place] of [
    [['--redis-url', `${base}/16`], {}, '--redis-url'],
    [[], { REDIS_URL: `${base}/16` }, 'REDIS_URL'],
  ] as const) {
    const r = await spawnCli(['demo', '--file', join(dir, 'demo.sqlite'), ...args, '--json'], { env });
    t.is(r.code, 2, r.stderr);
    t.true(r.json<{ error: { message: string } }>().error.message.startsWith(`the Redis URL (${place}) ${base}/16 names database 16`), r.stdout);
  }
});
