/**
 * A Redis Cluster with a master down (cluster_state:fail): ioredis's cluster client neither
 * connects nor fails, and a command waiting on it used to end with exit code 0 and not a
 * word once nothing else was left to do. Each command must fail at once, saying why.
 * A cluster of the file's own (one of its nodes is shut down).
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { Redis } from 'ioredis';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { spawnCli } from './helpers/cli.js';
import { dialectsUnderTest } from './helpers/databases.js';
import { notificationFixture } from './helpers/notifications.js';
import { type TestCluster, startRedisCluster, until } from './helpers/redis-cluster.js';
import { clusterTests } from './helpers/redis.js';

let cluster: TestCluster | undefined;

test.before(async () => {
  if (!clusterTests) return;
  cluster = await startRedisCluster();
  const [alive, , dead] = cluster.ports;
  spawnSync('redis-cli', ['-p', String(dead), 'shutdown', 'nosave']);
  const probe = new Redis({ port: alive, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    await until('the cluster to fail', async () => String(await probe.cluster('INFO')).includes('cluster_state:fail'), 30_000);
  } finally {
    probe.disconnect();
  }
});

test.after.always(async () => {
  await cluster?.stop();
});

const failing = (c: TestCluster) => `redis+cluster://${c.ports.slice(0, 2).map((p) => `127.0.0.1:${p}`).join(',')}`;

if (clusterTests && dialectsUnderTest().includes('sqlite')) {
  for (const args of [['overdue-sync', '--json'], ['notify-invalid', '--json'], ['status', '--strict', '--json']]) {
    test(`${args[0]} against a cluster whose state is fail: exit 1 within seconds, one line saying so, nothing done`, async (t) => {
      const f = await notificationFixture(t, 'sqlite');
      const school = await seedSchool(f.db);
      const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } });
      const extra = args[0] === 'notify-invalid' ? ['--check-code', pupil.checkCode] : [];
      const started = Date.now();
      const r = await spawnCli([...args, ...extra], { env: { ...f.env, REDIS_URL: failing(cluster!) }, timeoutMs: 20_000 });
      t.true(Date.now() - started < 10_000, `${Date.now() - started} ms`);
      t.is(r.code, 1, r.stderr);
      t.regex(r.stdout, /cluster_state:fail \(a master is down/);
      if (args[0] === 'notify-invalid') {
        // Not marked: the message is not taken as handled.
        const check = await f.db.knex('check').where({ checkCode: pupil.checkCode }).first('processingFailed');
        t.falsy(Number(check?.processingFailed));
      }
    });
  }
}
