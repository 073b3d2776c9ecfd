/** `serve`'s Fetch route against a real server, database and Redis: the same rules as rescope-show, the original's status codes. */
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { eachTarget, lockWaiters, postgresOnly } from './helpers/databases.js';
import { contentRows, queueRows } from './helpers/rescope.js';
import { accessCases, world } from './helpers/rescope-world.js';
import { useRedisCluster } from './helpers/redis.js';
import { fetchPath, testServer } from './helpers/serve.js';

useRedisCluster();

const statusOf = { queued: 404, forbidden: 403, 'not-applicable': 400 } as const;

eachTarget('GET: the whole access matrix of rescope-show, with the original status codes and messages', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  for (const [name, { caller, ...query }, expected] of accessCases(w)) {
    const answer = await s.get(fetchPath(query), await w.token(caller));
    t.is(answer.status, statusOf[expected], name);
    t.is(answer.headers.get('content-type'), 'application/json; charset=utf-8', name);
    if (expected === 'queued') t.deepEqual(answer.json(), { message: 'Rescoped content not found' }, name);
    if (expected === 'not-applicable') t.deepEqual(answer.json(), { message: 'Rescope not applicable to specified course/class' }, name);
    if (expected === 'forbidden') {
      const decided = await w.show({ caller, ...query });
      t.deepEqual(answer.json(), { message: (decided as { reason: string }).reason }, `${name}: the message is the rule that failed`);
    }
  }
  t.is((await queueRows(w.f.db)).length, 3, 'only the allowed requests queued, once per learner, course and class');
  t.true((await queueRows(w.f.db)).every((r) => r.source === 'oob'));
  // An archived class: nothing stored and nothing can be queued, so not applicable.
  const archived = await s.get(fetchPath({ courseId: w.course.id, classId: w.archivedClass.id }), await w.token(w.learner));
  t.is(archived.status, 400);
});

eachTarget('GET: 401 with an empty body for every kind of bad credentials', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  await w.f.redis.client.set(`${w.sessionPrefix}bm90anNvbg==`, 'not json', 'EX', 60);
  await w.f.redis.client.set(`${w.sessionPrefix}YW5vbg==`, JSON.stringify({ user_id: 'anonymous' }), 'EX', 60);
  await w.f.redis.client.set(`${w.sessionPrefix}bm91c2Vy`, JSON.stringify({ username: 'x' }), 'EX', 60);
  await w.f.redis.client.hset(`${w.sessionPrefix}aGFzaA==`, 'a', 'b');
  t.teardown(() => w.f.redis.client.del(`${w.sessionPrefix}aGFzaA==`).then(() => undefined));
  const valid = await w.token(w.learner);
  const path = fetchPath({ courseId: w.course.id });
  const cases: Array<[string, string | undefined]> = [
    ['no header', undefined],
    ['another scheme', 'Bearer x'],
    ['a token with ":"', 'Token a:b'],
    ['a token with a space', 'Token YWJj ZGVm'],
    ['no token', 'Token '],
    ['a valid token under another scheme', `Bearer ${valid}`],
    ['an unknown token', 'Token dW5rbm93bg=='],
    ['a session that is not JSON', 'Token bm90anNvbg=='],
    ['the anonymous user', 'Token YW5vbg=='],
    ['a session without user_id', 'Token bm91c2Vy'],
    ['a token naming a key of another type', 'Token aGFzaA=='],
  ];
  for (const [name, authorization] of cases) {
    const answer = await s.request(path, authorization === undefined ? {} : { authorization });
    t.is(answer.status, 401, name);
    t.is(answer.text, '', `${name}: empty body`);
    t.is(answer.headers.get('content-length'), '0', name);
  }
  t.is((await s.request(path, { authorization: `Token ${valid}` })).status, 404, 'the same request with a valid token passes');
  const logged = s.logs().filter((r) => r.msg === 'request' && r.status === 401);
  t.is(logged.length, cases.length, 'one access-log line each');
  t.false(JSON.stringify(s.logs()).includes(valid), 'the token is never logged');
});

eachTarget('GET: a lookup refreshes the session TTL with its access_token_validity, else 3600', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  await w.f.redis.client.set(`${w.sessionPrefix}c2hvcnQ=`, JSON.stringify({ user_id: w.learner, access_token_validity: 86400 }), 'EX', 5);
  await w.f.redis.client.set(`${w.sessionPrefix}ZGVmYXVsdA==`, JSON.stringify({ user_id: w.learner }), 'EX', 5);
  t.is((await s.get(fetchPath({ courseId: w.course.id }), 'c2hvcnQ=')).status, 404);
  t.is((await s.get(fetchPath({ courseId: w.course.id }), 'ZGVmYXVsdA==')).status, 404);
  t.true((await w.f.redis.client.ttl(`${w.sessionPrefix}c2hvcnQ=`)) > 86_000);
  const ttl = await w.f.redis.client.ttl(`${w.sessionPrefix}ZGVmYXVsdA==`);
  t.true(ttl > 3500 && ttl <= 3600, `TTL ${ttl}`);
});

eachTarget('GET: 404 queues one oob row however often it is asked; after dispatch and process the same GET is 200 with the stored content', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.klass.creatorId);
  const path = fetchPath({ courseId: w.course.id, classId: w.klass.id, userId: w.learner });
  for (let i = 0; i < 4; i++) t.is((await s.get(path, token)).status, 404);
  const rows = await queueRows(w.f.db);
  t.is(rows.length, 1);
  t.like(rows[0], { userId: w.learner, courseId: w.course.id, classId: w.klass.id, source: 'oob', priority: 1 });
  const settings = { batchSize: 10, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1 };
  await dispatch(w.f.db, w.f.bus, settings);
  t.like(await processQueue(w.f.db, w.f.bus, settings), { processed: 1 });
  const found = await s.get(path, token);
  t.is(found.status, 200);
  t.is(found.headers.get('content-type'), 'application/json; charset=utf-8');
  const [stored] = await w.f.db.knex('rescoped_content').select('skipped_content');
  t.is(found.text, String(stored!.skipped_content), 'the stored document, byte for byte');
  const [u1] = w.course.units;
  t.deepEqual(found.json(), (await contentRows(w.f.db))[0]!.content);
  t.deepEqual(found.json<{ units: string[] }>().units, [u1!.id]);
  t.is((await s.get(path.replace('/v1/', '/v2/'), token)).status, 200, 'v2 answers the same');
});

eachTarget('GET: bad queries and routes, with the original messages', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.learner);
  const c = w.course.id;
  const cases: Array<[string, string, number, unknown]> = [
    ['no courseId', fetchPath({}), 400, { message: 'Invalid course id' }],
    ['an empty courseId', '/api/rescope/v1/scope/skipped?courseId=', 400, { message: 'Invalid course id' }],
    ['courseId not a UUID', fetchPath({ courseId: 'abc' }), 400, { message: 'Invalid UUID format' }],
    ['classId not a UUID (the original ignored it)', fetchPath({ courseId: c, classId: '42' }), 400, { message: 'Invalid UUID format' }],
    ['userId not a UUID', fetchPath({ courseId: c, userId: 'me' }), 400, { message: 'Invalid UUID format' }],
    ['courseId twice', `${fetchPath({ courseId: c })}&courseId=${c}`, 400, { message: 'Parameter courseId is given more than once' }],
    ['classId twice', `${fetchPath({ courseId: c, classId: w.klass.id })}&classId=${w.klass.id}`, 400, { message: 'Parameter classId is given more than once' }],
    ['version v3', fetchPath({ courseId: c }, 'v3'), 501, { message: 'API version is not supported' }],
    ['an unknown route under the API', '/api/rescope/v1/scope/other', 404, { message: 'Not found' }],
    ['an unknown route', '/nowhere', 404, { message: 'Not found' }],
  ];
  for (const [name, path, status, body] of cases) {
    const answer = await s.get(path, token);
    t.is(answer.status, status, name);
    t.deepEqual(answer.json(), body, name);
  }
  t.is((await s.get(fetchPath({ courseId: c, classId: '' }), token)).status, 404, 'an empty classId is independent learning');
  t.is((await queueRows(w.f.db)).length, 1, 'no bad request queued anything');
});

eachTarget('a failure of ours is 500 with an empty body, and its cause is logged', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.learner);
  await w.f.db.knex.schema.dropTable('rescoped_content');
  const answer = await s.get(fetchPath({ courseId: w.course.id }), token);
  t.is(answer.status, 500);
  t.is(answer.text, '');
  const failure = s.logs().find((r) => r.msg === 'request failed');
  t.truthy(failure);
  t.regex(String(failure?.error), /rescoped_content/);
  // Named as the database's failure, as a Redis failure names Redis.
  t.true(String(failure?.error).startsWith(`database ${w.f.db.display}: `), String(failure?.error));
  t.like(s.logs().find((r) => r.msg === 'request'), { level: 'info', command: 'serve', method: 'GET', route: '/api/rescope/:version/scope/skipped', status: 500 });
});

postgresOnly('a stop whose request is stuck on a database lock cancels its statement after the grace, so the pools close and nothing waits on', async (t) => {
  const w = await world(t, { dialect: 'postgres', redis: 'single' });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix, stopGraceMs: 500 });
  const token = await w.token(w.learner);
  const blocker = await w.f.db.knex.transaction();
  t.teardown(() => blocker.rollback().catch(() => undefined));
  await blocker.raw('LOCK TABLE rescoped_content IN ACCESS EXCLUSIVE MODE');
  const stuck = s.get(fetchPath({ courseId: w.course.id }), token).catch((err: unknown) => err);
  // The blocker is lent from the server's own pool, so the stop's cancel (sent to every
  // lent connection) may land on this count while it runs: then it is asked again.
  const waiting = async (): Promise<number> => {
    for (;;) {
      try {
        return await lockWaiters(blocker, 'rescoped_content');
      } catch (err) {
        if ((err as { code?: unknown }).code !== '57014') throw err;
      }
    }
  };
  const deadline = Date.now() + 30_000;
  while ((await waiting()) === 0) {
    if (Date.now() > deadline) throw new Error('the request never waited on the lock');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const started = performance.now();
  await s.server.stop();
  await stuck;
  t.true(performance.now() - started < 5_000, `stopped ${Math.round(performance.now() - started)} ms after asked`);
  // The cancel travels on a connection of its own: the server acts on it a moment later.
  const settle = Date.now() + 5_000;
  while ((await waiting()) > 0 && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(await waiting(), 0, 'the statement was cancelled, not left waiting on the server');
  t.regex(String(s.logs().find((r) => /requests still running/.test(String(r.msg)))?.msg), /cancelling their \d+ database statements/);
  await blocker.rollback();
});
