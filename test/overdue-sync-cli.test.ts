/**
 * overdue-sync as a real process when Redis fails before the database is open
 * (PostgreSQL opens slower than a refused connection): one clear line and exit 1, never
 * an unhandled rejection with a stack trace.
 */
import { spawnCli } from './helpers/cli.js';
import { migratedDatabase, postgresOnly } from './helpers/databases.js';
import { closedPort } from './helpers/net.js';
import { ownRedis } from './helpers/redis-server.js';

postgresOnly('overdue-sync and --dry-run with Redis unreachable or refusing the password: exit 1, one error line, no stack trace', async (t) => {
  const { tdb } = await migratedDatabase(t, 'postgres');
  const password = 'right-pass-4z';
  const server = await ownRedis(t, { password });
  const closed = await closedPort();
  const targets = [
    { url: `redis://127.0.0.1:${closed}`, why: /cannot connect to Redis redis:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/ },
    { url: `redis://:wrong-pass-7q@127.0.0.1:${server.port}`, why: /cannot connect to Redis redis:\/\/.*127\.0\.0\.1:\d+: WRONGPASS/ },
  ];
  for (const { url, why } of targets) {
    for (const args of [[], ['--dry-run']]) {
      const label = `overdue-sync ${args.join(' ')} against ${url.replace('wrong-pass-7q', '…')}`;
      const r = await spawnCli(['overdue-sync', ...args], { env: { ...tdb.env, REDIS_URL: url, MTC_BATCH_LOG_FORMAT: 'json' } });
      t.is(r.code, 1, `${label}: ${r.stderr}`);
      // Every stderr line is a log record (a stack trace is not), and one of them is the error.
      const records = r.stderr.trim().split('\n').map((line) => {
        try {
          return JSON.parse(line) as { level: string; msg: string };
        } catch {
          return { level: 'not a log record', msg: line };
        }
      });
      t.deepEqual(records.filter((x) => x.level !== 'info').map((x) => x.level), ['error'], `${label}: ${r.stderr}`);
      t.regex(records.find((x) => x.level === 'error')?.msg ?? '', why, label);
      t.false(r.stderr.includes('wrong-pass-7q'), `${label}: the password is not shown`);
      t.is(r.stdout, '', label);
    }
  }
});
