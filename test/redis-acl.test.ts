/**
 * Least privilege, proven: every command that touches Redis runs through the real CLI as
 * the ACL user the README gives (its key patterns, its commands, GET and EXPIRE alone on
 * sessions), on a Redis of the test's own and on a Redis Cluster with the user on every
 * node. Any command the jobs send outside that grant is refused (NOPERM) and logged by the
 * server in ACL LOG, swallowed or not: the test reads the log after every step.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../src/redis/redis.js';
import { parseClusterUrl } from '../src/redis/redis-url.js';
import { spawnCli } from './helpers/cli.js';
import { type Target, dialectsUnderTest, eachDialect, migratedDatabase } from './helpers/databases.js';
import { type AclRun, type JobKeys, aclSetUserLine, defaultJobKeys, setJobUser } from './helpers/redis-acl.js';
import { notificationSteps, rescopeSteps } from './helpers/redis-acl-steps.js';
import { clusterTests, isolatedRedis, useRedisCluster } from './helpers/redis.js';
import { ownRedis } from './helpers/redis-server.js';

useRedisCluster();

/** A database with the jobs' role, a Redis (own server or the file's cluster) and the jobs' ACL user on it. */
async function aclRun(t: ExecutionContext, target: Target, keys: JobKeys): Promise<AclRun> {
  const { tdb, db } = await migratedDatabase(t, target.dialect);
  const user = `mtc-batch-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let ports: number[];
  let admin: RedisClient;
  let url: string;
  let connections: AclRun['connections'];
  if (target.redis === 'single') {
    // DEBUG enabled for local clients, so that what refuses it below is the ACL.
    const own = await ownRedis(t, { args: ['--enable-debug-command', 'local'] });
    ports = [own.port];
    const single = new Redis({ port: own.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    admin = single;
    url = `redis://${user}:${password}@127.0.0.1:${own.port}`;
    connections = async () => Number(/total_connections_received:(\d+)/.exec(await single.info('stats'))?.[1]);
  } else {
    const cluster = parseClusterUrl((await isolatedRedis(t, 'cluster')).url)!;
    ports = cluster.nodes.map((n) => n.port);
    admin = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    url = `redis+cluster://${user}:${password}@${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
  t.teardown(() => admin.disconnect());
  const nodes = await setJobUser(t, ports, user, password, keys);
  // The default names are left to the jobs' own defaults, as a deployment leaves them.
  const names = {
    MTC_BATCH_BUS_KEY: keys.busKey,
    MTC_BATCH_SESSION_PREFIX: keys.sessionPrefix,
    MTC_BATCH_NOTIFICATION_PREFIX: keys.notificationPrefix,
    MTC_BATCH_NOTIFICATION_INDEX_KEY: keys.notificationIndexKey,
  };
  const env = { ...tdb.env, REDIS_URL: url, MTC_BATCH_LOG_FORMAT: 'json', ...(keys === defaultJobKeys ? {} : names) };
  const noDenials = async (label: string) => {
    t.deepEqual(await nodes.denials(), [], `${label}: refused by the ACL`);
  };
  const cli: AclRun['cli'] = async (args, expectedCode = 0, extra = {}) => {
    const r = await spawnCli(args, { env, ...(extra.stdin !== undefined ? { stdin: extra.stdin } : {}) });
    const label = `mtc-batch ${args.join(' ')}`;
    t.is(r.code, expectedCode, `${label}\n${r.stderr}`);
    t.notRegex(r.stdout + r.stderr, /NOPERM/, label);
    await noDenials(label);
    return r;
  };
  return { t, db, env, keys, admin, nodes, connections, cli, noDenials };
}

/** What the ACL refuses the jobs' user: proves the grant is in force and the denial log is read. */
async function theAclBites(run: AclRun, where: Target): Promise<void> {
  const { t, nodes } = run;
  const target = parseClusterUrl(run.env.REDIS_URL!);
  const jobUser: RedisClient = target
    ? new Cluster(target.nodes, { lazyConnect: true, redisOptions: { username: target.username, password: target.password, maxRetriesPerRequest: 0, enableReadyCheck: false } })
    : new Redis(run.env.REDIS_URL!, { maxRetriesPerRequest: 0, enableReadyCheck: false, lazyConnect: true });
  t.teardown(() => jobUser.disconnect());
  await jobUser.connect();
  const outside = `not-the-jobs:${randomBytes(4).toString('hex')}`;
  const refused: Array<[string, ...string[]]> = [
    ['KEYS', '*'], ['SCAN', '0'], ['FLUSHALL'], ['FLUSHDB'], ['CONFIG', 'GET', 'maxmemory'], ['INFO'],
    // The cluster's nodes refuse DEBUG to everyone (enable-debug-command no) before any ACL.
    ...(where.redis === 'single' ? [['DEBUG', 'SLEEP', '0'] as [string, ...string[]]] : []),
    ['SET', outside, 'x'], ['DEL', `${run.keys.sessionPrefix}${outside}`], ['SET', `${run.keys.sessionPrefix}${outside}`, 'x'],
  ];
  for (const [command, ...args] of refused) {
    await t.throwsAsync(jobUser.call(command, ...args), { message: /^NOPERM/ }, `${command} ${args.join(' ')}`);
  }
  // Sessions: GET on any key under the session prefix (every key, with the platform's bare tokens).
  t.is(await jobUser.get(`${run.keys.sessionPrefix}${outside}`), null);
  const logged = await nodes.denials();
  const expectedDenials = ['command keys', 'command scan', 'command flushall', 'command flushdb', 'command config|get', 'command info', `key ${outside}`];
  if (where.redis === 'single') expectedDenials.push('command debug');
  for (const expected of expectedDenials) {
    t.true(logged.includes(expected), `ACL LOG shows "${expected}": ${logged.join(', ')}`);
  }
}

async function everyCommand(t: ExecutionContext, target: Target, keys: JobKeys): Promise<void> {
  const run = await aclRun(t, target, keys);
  await rescopeSteps(run);
  await notificationSteps(run);
  await theAclBites(run, target);
}

const custom: JobKeys = {
  notificationPrefix: 'tenant[7]:school?overdue*:',
  notificationIndexKey: '{tenant[7]:overdue}:index',
  busKey: 'tenant[7]:rescope:bus*',
  sessionPrefix: 'tenant[7]:session:',
};

/**
 * On the file's one cluster, one test at a time: the ASK test moves a slot, which no
 * other test's keys may meet half-way.
 */
function clusterSerial(title: string, fn: (t: ExecutionContext, target: Target) => Promise<void>): void {
  if (clusterTests && dialectsUnderTest().includes('postgres')) test.serial(`${title} [postgres, redis cluster]`, (t) => fn(t, { dialect: 'postgres', redis: 'cluster' }));
}

const defaults = "every command that touches Redis runs as the README's ACL user, default key names";
const derived = 'every command that touches Redis runs as the ACL user derived for custom key names (glob characters escaped)';
eachDialect(defaults, (t, dialect) => everyCommand(t, { dialect, redis: 'single' }, defaultJobKeys));
clusterSerial(defaults, (t, target) => everyCommand(t, target, defaultJobKeys));
const first = dialectsUnderTest()[0]!;
test(`${derived} [${first}]`, (t) => everyCommand(t, { dialect: first, redis: 'single' }, custom));
clusterSerial(derived, (t, target) => everyCommand(t, target, custom));

clusterSerial('while a slot migrates, a job follows ASK redirections as the ACL user', async (t, target) => {
  const run = await aclRun(t, target, { ...defaultJobKeys, sessionPrefix: `asking:${randomBytes(4).toString('hex')}:` });
  const admins = run.nodes.admins;
  // An unknown token whose key sits in a slot being moved: its owner answers ASK, and the
  // job asks the importing node (ASKING, then GET), which has no such session either.
  const token = randomBytes(12).toString('base64');
  const slot = calculateSlot(`${run.keys.sessionPrefix}${token}`);
  const ids = await Promise.all(admins.map(async (a) => String(await a.cluster('MYID'))));
  const ranges = await admins[0]!.cluster('SLOTS');
  const source = ids.indexOf(ranges.find(([from, to]) => from <= slot && slot <= to)![2][2]);
  const dest = (source + 1) % admins.length;
  t.teardown(async () => {
    for (const a of [admins[dest]!, admins[source]!]) await a.cluster('SETSLOT', slot, 'STABLE').catch(() => undefined);
  });
  await admins[dest]!.cluster('SETSLOT', slot, 'IMPORTING', ids[source]!);
  await admins[source]!.cluster('SETSLOT', slot, 'MIGRATING', ids[dest]!);
  const r = await run.cli(['rescope-show', '--token', token, '--course', randomUUID(), '--json'], 4);
  t.like(r.json(), { status: 'unauthorised' });
});

test('the README gives the ACL line for the default key names, and how to derive it for others', (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  t.true(readme.includes(aclSetUserLine('mtc-batch', 'CHANGE-ME', defaultJobKeys)), aclSetUserLine('mtc-batch', 'CHANGE-ME', defaultJobKeys));
  t.true(readme.includes(aclSetUserLine('mtc-batch', 'CHANGE-ME', {
    notificationPrefix: '<notificationPrefix>',
    notificationIndexKey: '<notificationIndexKey>',
    busKey: '<busKey>',
    sessionPrefix: '<sessionPrefix>',
  })));
});
