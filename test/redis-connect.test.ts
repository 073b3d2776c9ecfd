import test from 'ava';
import { Redis } from 'ioredis';
import { ConfigError, ConnectionError } from '../src/errors.js';
import { openRedis } from '../src/redis/redis.js';
import { closedPort } from './helpers/net.js';
import { ownRedis } from './helpers/redis-server.js';
import { clusterTests, isolatedRedis, redisUrl, useRedisCluster } from './helpers/redis.js';

test('an unreachable Redis is one clear error naming the target, password masked', async (t) => {
  const port = await closedPort();
  const started = Date.now();
  const err = await t.throwsAsync(openRedis({ redisUrl: `redis://:hunter2@127.0.0.1:${port}` }), { instanceOf: ConnectionError });
  t.is(err?.message, `cannot connect to Redis redis://:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
  t.true(Date.now() - started < 5_000);
});

test('a reachable Redis answers and closes cleanly', async (t) => {
  const handle = await openRedis({ redisUrl });
  t.is(await handle.client.ping(), 'PONG');
  await handle.close();
  await t.notThrowsAsync(handle.close());
  await t.throwsAsync(handle.client.ping(), { message: /Connection is closed/ });
});

test('a password in a query string is masked where the Redis URL is shown', async (t) => {
  // Configuration refuses such a URL; the mask covers it wherever one is displayed anyway.
  const port = await closedPort();
  const err = await t.throwsAsync(openRedis({ redisUrl: `redis://127.0.0.1:${port}?password=TopSecret` }), { instanceOf: ConnectionError });
  t.is(err?.message, `cannot connect to Redis redis://127.0.0.1:${port}?password=***: connect ECONNREFUSED 127.0.0.1:${port}`);
});

test('an unreachable Redis Cluster is one clear error too, password masked', async (t) => {
  const [a, b] = [await closedPort(), await closedPort()];
  const started = Date.now();
  const err = await t.throwsAsync(openRedis({ redisUrl: `redis+cluster://:hunter2@127.0.0.1:${a},127.0.0.1:${b}` }), { instanceOf: ConnectionError });
  t.is(
    err?.message,
    `cannot connect to Redis redis+cluster://:***@127.0.0.1:${a},127.0.0.1:${b}: 127.0.0.1:${a}: connect ECONNREFUSED 127.0.0.1:${a}; 127.0.0.1:${b}: connect ECONNREFUSED 127.0.0.1:${b}`,
  );
  t.true(Date.now() - started < 5_000);
});

test('a cluster URL naming a server without cluster mode says so', async (t) => {
  const { hostname, port } = new URL(redisUrl);
  const err = await t.throwsAsync(openRedis({ redisUrl: `redis+cluster://${hostname}:${port || 6379}` }), { instanceOf: ConnectionError });
  t.regex(err?.message ?? '', /cluster support disabled/);
});

useRedisCluster();

(clusterTests ? test : test.skip)('a plain redis:// URL at a cluster node says to use redis+cluster://, before any command runs', async (t) => {
  const { url } = await isolatedRedis(t, 'cluster');
  const node = url.replace('redis+cluster://', '').split(',')[0]!;
  const err = await t.throwsAsync(openRedis({ redisUrl: `redis://${node}` }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', new RegExp(`the Redis URL \\(REDIS_URL, --redis-url or a config file's redisUrl\\) redis://${node} is a node of a Redis Cluster: write it as redis\\+cluster://`));
});

test('a Redis that wants a password, given none or a wrong one, is refused at connect, in one line naming it', async (t) => {
  // ioredis's own ready check (INFO) used to find this; connecting now asks HELLO, which
  // Redis answers before authentication, so the PING sent with it must.
  const guarded = await ownRedis(t, { password: 'right' });
  for (const [url, reason] of [
    [`redis://127.0.0.1:${guarded.port}`, 'NOAUTH Authentication required.'],
    [`redis://:wrong@127.0.0.1:${guarded.port}`, 'WRONGPASS invalid username-password pair or user is disabled.'],
  ] as const) {
    const err = await t.throwsAsync(openRedis({ redisUrl: url }), { instanceOf: ConnectionError });
    t.is(err?.message, `cannot connect to Redis ${url.replace(':wrong@', ':***@')}: ${reason}`);
  }
  const handle = await openRedis({ redisUrl: guarded.url });
  t.is(await handle.client.ping(), 'PONG');
  await handle.close();
});

test('an ACL user without +select, given a numbered database, is told to add +select, not that the database is missing', async (t) => {
  const server = await ownRedis(t);
  const admin = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
  t.teardown(() => admin.disconnect());
  await admin.connect();
  // The README's line for the jobs' user grants no +select.
  await admin.call('ACL', 'SETUSER', 'mtc-batch', 'reset', 'on', '>pw', '~*', '+ping', '+get');
  const url = `redis://mtc-batch:pw@127.0.0.1:${server.port}/3`;
  const err = await t.throwsAsync(openRedis({ redisUrl: url }), { instanceOf: ConfigError });
  t.is(err?.exitCode, 2);
  t.regex(
    err?.message ?? '',
    new RegExp(
      `^the Redis URL \\(REDIS_URL, --redis-url or a config file's redisUrl\\) redis://mtc-batch:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}/3 names database 3, ` +
        `but its Redis user mtc-batch may not run SELECT \\(NOPERM [^)]*\\): add \\+select to that user's ACL \\(ACL SETUSER mtc-batch \\+select`,
    ),
  );
  t.notRegex(err?.message ?? '', /does not have/);
  t.false(err?.message.includes(':pw@'));
  // With +select it connects to that database.
  await admin.call('ACL', 'SETUSER', 'mtc-batch', '+select');
  const handle = await openRedis({ redisUrl: url });
  t.is(await handle.client.ping(), 'PONG');
  await handle.close();
  // The same for the default user, when a password alone is given.
  await admin.call('ACL', 'SETUSER', 'default', '-select', '>pw2');
  const byDefault = await t.throwsAsync(openRedis({ redisUrl: `redis://:pw2@127.0.0.1:${server.port}/3` }), { instanceOf: ConfigError });
  t.regex(byDefault?.message ?? '', /but its Redis user default may not run SELECT .*ACL SETUSER default \+select/);
});
