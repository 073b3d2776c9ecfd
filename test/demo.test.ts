import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { spawnCli } from './helpers/cli.js';
import { redisUrl } from './helpers/redis.js';
import { ownRedis } from './helpers/redis-server.js';

// The demo's keys have a fixed prefix (demo:), so this test gives it a logical database
// of its own instead of a key prefix.
const demoRedisUrl = `${redisUrl.replace(/\/\d*$/, '')}/14`;

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
  const showTeacher = byHand.find((args) => args.includes('demo-token-teacher'))!;
  const found = await spawnCli([...showTeacher, '--json'], { env });
  t.is(found.code, 0, found.stderr);
  t.like(found.json(), { status: 'found' });
  const showBen = byHand.find((args) => args.includes('demo-token-ben'))!;
  t.is((await spawnCli(showBen, { env })).code, 4);
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
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
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

test('the demo never writes a Redis password into its settings file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const guarded = await ownRedis(t, { password: 'hunter2' });
  const file = join(dir, 'demo.sqlite');
  const r = await spawnCli(['demo', '--file', file], { env: { REDIS_URL: guarded.url } });
  t.is(r.code, 0, r.stderr);
  const saved = readFileSync(join(dir, 'demo.json'), 'utf8');
  t.false(saved.includes('hunter2'));
  t.false(r.stdout.includes('hunter2'));
  t.false('redisUrl' in (JSON.parse(saved) as object));
  t.regex(r.stdout, /REDIS_URL holds a password, which is not written there/);
  // The file still works as a config file (the marker is allowed), with REDIS_URL from the environment.
  const status = await spawnCli(['status', '--config', join(dir, 'demo.json'), '--json'], { env: { REDIS_URL: guarded.url } });
  t.is(status.code, 0, status.stderr);
});
