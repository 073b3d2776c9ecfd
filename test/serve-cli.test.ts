/** `mtc-batch serve` as a real process: it listens, logs JSON lines, and stops cleanly on a signal. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eachDialect, isolatedDatabase } from './helpers/databases.js';
import { runCli, spawnCli, spawnServe, untilStderr } from './helpers/cli.js';
import { queueRows } from './helpers/rescope.js';
import { world } from './helpers/rescope-world.js';
import { rescopePath } from './helpers/serve.js';
import { redisUrl } from './helpers/redis.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { ownRedis } from './helpers/redis-server.js';
import { Redis } from 'ioredis';

eachDialect('SIGTERM during a slow request: serve stops accepting, completes it, and exits 0', async (t, dialect) => {
  const w = await world(t, { dialect, redis: 'single' });
  // Redis behind a link with 0.5 s each way: a request spends 2 s on its session
  // (GET, EXPIRE), so a signal can arrive while it is in flight. (A database lock would
  // not do on SQLite: better-sqlite3 waits for a lock synchronously, signals included.)
  const redis = new URL(w.f.redis.url);
  const link = await startTcpProxy({ targetHost: redis.hostname, targetPort: Number(redis.port), delayMs: 500 });
  t.teardown(() => link.close());
  const env = { ...w.f.env, REDIS_URL: link.url(), MTC_BATCH_SESSION_PREFIX: w.sessionPrefix, MTC_BATCH_LOG_FORMAT: 'json' };
  const { child, url } = await spawnServe(env);
  const token = await w.token(w.klass.creatorId);
  t.is((await fetch(`${url}/healthz`)).status, 200);

  const started = Date.now();
  const slow = fetch(`${url}${rescopePath}`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ source: 'join.class', classId: w.klass.id, memberIds: [w.learner] }),
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  child.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(child.child.exitCode, null, 'still running while a request is in flight');
  await t.throwsAsync(fetch(`${url}/healthz`), undefined, 'no new connections once stopping');
  const answer = await slow;
  t.is(answer.status, 200);
  t.deepEqual(await answer.json(), { queued: 1, duplicates: 0, dropped: 0, requeued: 0, rescopeOff: 0 });
  t.true(Date.now() - started > 1_500, 'the request really was slow');
  const result = await child;
  t.is(result.code, 0, result.stderr);
  const records = result.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(records.find((r) => r.msg === 'request' && r.method === 'POST'), { level: 'info', command: 'serve', status: 200 });
  t.like(records.at(-1), { msg: 'finished', command: 'serve', exitCode: 0 });
  t.false(result.stderr.includes(token), 'the token is never logged');
  t.is((await queueRows(w.f.db)).length, 1);
});

eachDialect('serve refuses an unmigrated database and a host not of this machine (exit 2) and a port in use (exit 1), naming the cause and the fix', async (t, dialect) => {
  const tdb = await isolatedDatabase(t, dialect);
  const empty = await runCli(['serve', '--serve-port', '0'], { env: { ...tdb.env, REDIS_URL: redisUrl } });
  t.is(empty.code, 2);
  t.regex(empty.stderr, /run \\"mtc-batch migrate\\"/);

  const w = await world(t, { dialect, redis: 'single' });
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;
  const busy = await runCli(['serve', '--serve-port', String(port)], { env: w.f.env });
  t.is(busy.code, 1);
  t.regex(busy.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*another process \\(another serve\\?\\) already listens there; stop it, or give --serve-port`));
  for (const host of ['127.0.0.1:9000', '1.2.3.4.5', 'no-such-host.invalid', '192.0.2.1']) {
    const bad = await runCli(['serve', '--serve-port', '0', '--serve-host', host], { env: w.f.env });
    t.is(bad.code, 2, `${host}: ${bad.stderr}`);
    t.regex(bad.stderr, /--serve-host \(MTC_BATCH_SERVE_HOST\) must be an address of this machine/, host);
    t.false(bad.stderr.includes('lost the connection'), `closing its own Redis connection is no outage: ${bad.stderr}`);
  }
  const human = await runCli(['serve', '--serve-port', '70000'], { env: { ...w.f.env, MTC_BATCH_LOG_FORMAT: 'human' } });
  t.is(human.code, 2);
  t.false(human.stderr.trimStart().startsWith('{'), `a configuration error in the format asked for: ${human.stderr}`);
  t.regex(human.stderr, /--serve-port must be a whole number/);
  const badPort = await runCli(['serve', '--serve-port', '70000'], { env: w.f.env });
  t.is(badPort.code, 2);
  t.regex(badPort.stderr, /--serve-port must be a whole number from 0 to 65535/);
});

test('a port written with spaces, a sign, a leading zero, a point or in hex is refused before serve starts (exit 2), naming where it came from', async (t) => {
  // Everything else is good: a port read past its extra characters would start serving
  // (and be stopped by the time-out below, failing the test).
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-serve-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'settings.json');
  writeFileSync(file, '{"servePort": "-0"}');
  const plainDigits = ': digits only, without spaces, a sign or leading zeros';
  for (const [args, env, message] of [
    [[], { MTC_BATCH_SERVE_PORT: '0 ' }, `MTC_BATCH_SERVE_PORT must be a whole number from 0 to 65535; got "0 "${plainDigits}`],
    [['--serve-port', ' 0'], {}, `--serve-port must be a whole number from 0 to 65535; got " 0"${plainDigits}`],
    [['--serve-port', '00'], {}, `--serve-port must be a whole number from 0 to 65535; got "00"${plainDigits}`],
    [['--config', file], {}, `"servePort" in config file ${file} must be a whole number from 0 to 65535; got "-0"${plainDigits}`],
    [[], { MTC_BATCH_SERVE_PORT: '8080.5' }, 'MTC_BATCH_SERVE_PORT must be a whole number from 0 to 65535; got "8080.5"'],
    [['--serve-port', '0x50'], {}, '--serve-port must be a whole number from 0 to 65535; got "0x50"'],
  ] as const) {
    const r = await spawnCli(['serve', '--json', ...args], { env: { ...w.f.env, ...env }, timeoutMs: 20_000 });
    t.is(r.code, 2, `${message}: ${r.stderr}`);
    t.deepEqual(JSON.parse(r.stdout), { error: { code: 'config', message, exitCode: 2 } });
    t.false(r.stderr.includes('listening'), r.stderr);
  }
});

test('a Redis outage under serve: one warning naming Redis when it drops, 500s and /readyz say why, one line when it is back', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const target = new URL(w.f.redis.url);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port) });
  const token = 'b3V0YWdl';
  await w.f.redis.client.set(`${w.sessionPrefix}${token}`, JSON.stringify({ user_id: w.learner }), 'EX', 120);
  t.teardown(() => w.f.redis.client.del(`${w.sessionPrefix}${token}`).then(() => undefined));
  const redisDb = target.pathname.replace('/', '') || '0';
  const url = `redis://:secret-pw@127.0.0.1:${proxy.port}/${redisDb}`;
  const { child, url: base } = await spawnServe({ ...w.f.env, REDIS_URL: url, MTC_BATCH_SESSION_PREFIX: w.sessionPrefix, MTC_BATCH_LOG_FORMAT: 'json' });
  t.teardown(() => child.child.kill('SIGKILL'));
  const fetchIt = () => fetch(`${base}${rescopePath}?courseId=${w.course.id}`, { headers: { authorization: `Token ${token}` } });
  t.is((await fetchIt()).status, 404);

  await proxy.close();
  await untilStderr(child, 'lost the connection to Redis');
  const failed = await fetchIt();
  t.is(failed.status, 500);
  t.is(await failed.text(), '');
  const askedAt = Date.now();
  const ready = await fetch(`${base}/readyz`);
  t.true(Date.now() - askedAt < 500, 'not after waiting out the 1 s deadline');
  t.is(ready.status, 503);
  const readyBody = (await ready.json()) as { redis: string };
  t.regex(readyBody.redis, /^not connected \(reconnecting/, 'a client that knows it is down says so at once');
  // Log lines gather for up to 50 ms before they are written.
  await untilStderr(child, '"msg":"request failed"');
  const lines = child.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>);
  t.is(lines.filter((l) => l.msg.startsWith('lost the connection to Redis')).length, 1, 'one warning per outage');
  t.is(lines.find((l) => l.msg.startsWith('lost the connection'))!.msg, `lost the connection to Redis redis://:***@127.0.0.1:${proxy.port}/${redisDb}: reconnecting; requests that need a session fail until it is back`);
  const failure = lines.find((l) => l.msg === 'request failed');
  t.regex(failure?.error ?? '', new RegExp(`^Redis redis://:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}/${redisDb}: (not connected|no reply)`));
  t.false(child.stderr().includes('secret-pw'), 'the password is never logged');

  const back = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port), port: proxy.port });
  t.teardown(() => back.close());
  await untilStderr(child, 'reconnected to Redis');
  t.is((await fetchIt()).status, 404, 'answers again');
  child.child.kill('SIGTERM');
  const r = await child;
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.split('\n').filter((l) => l.includes('lost the connection to Redis')).length, 1, 'serve\'s own stop is no outage');
});

test("Redis's password changed under serve: one warning, the refusal said once (not a 'reconnected' per retry), and one line when it is back", async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const redis = await ownRedis(t, { password: 'old-pw' });
  const { child } = await spawnServe({ ...w.f.env, REDIS_URL: `${redis.url}/2`, MTC_BATCH_LOG_FORMAT: 'json' });
  t.teardown(() => child.child.kill('SIGKILL'));
  const admin = new Redis({ port: redis.port, host: '127.0.0.1', password: 'old-pw' });
  t.teardown(() => admin.disconnect());
  await admin.config('SET', 'requirepass', 'new-pw');
  await admin.client('KILL', 'TYPE', 'normal');
  await untilStderr(child, 'is not back yet');
  // Several reconnects happen meanwhile (every 200 ms at first).
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const messages = () => child.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
  t.is(messages().filter((m) => m.startsWith('lost the connection to Redis')).length, 1, messages().join('\n'));
  t.is(messages().filter((m) => m.startsWith('reconnected to Redis')).length, 0, 'a reconnect whose AUTH is refused is not "reconnected"');
  const refusals = messages().filter((m) => m.includes('is not back yet'));
  t.is(refusals.length, 1, refusals.join('\n'));
  t.regex(refusals[0]!, /^Redis redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/2 is not back yet: it no longer accepts serve's credentials \((WRONGPASS|NOAUTH) [^)]*\): its password or ACL user changed; set the new one in the Redis URL and restart serve$/);
  await admin.config('SET', 'requirepass', 'old-pw');
  await untilStderr(child, 'reconnected to Redis');
  t.false(child.stderr().includes('old-pw') || child.stderr().includes('new-pw'), 'no password is ever logged');
});
