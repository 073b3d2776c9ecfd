/** `serve`'s probes, metrics and access log, against a real server, database and Redis. */
import { type Socket, createConnection } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { openDatabase } from '../src/db/database.js';
import { openRedis } from '../src/redis/redis.js';
import { type Target, eachTarget, postgresOnly, postgresUrl } from './helpers/databases.js';
import { enqueueRequests, queueRows } from './helpers/rescope.js';
import { world } from './helpers/rescope-world.js';
import { useRedisCluster } from './helpers/redis.js';
import { fetchPath, rescopePath, testServer } from './helpers/serve.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

useRedisCluster();

const single: Target['redis'] = 'single';

eachTarget('healthz and readyz answer; every request is one access-log line in the commands\' record shape, without the token', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  t.deepEqual((await s.get('/healthz')).json(), { status: 'ok' });
  const ready = await s.get('/readyz');
  t.is(ready.status, 200);
  t.deepEqual(ready.json(), { database: 'ok', redis: 'ok' });
  const token = await w.token(w.learner);
  await s.get(fetchPath({ courseId: w.course.id }), token);
  const records = s.logs().filter((r) => r.msg === 'request');
  t.is(records.length, 3);
  const last = records[2]!;
  t.deepEqual(Object.keys(last).slice(0, 4), ['time', 'level', 'msg', 'command'], 'the commands\' record shape');
  t.like(last, { level: 'info', command: 'serve', method: 'GET', route: '/api/rescope/:version/scope/skipped', status: 404, caller: w.learner, reason: 'queued an oob request' });
  t.is(typeof last.ms, 'number');
  t.false(JSON.stringify(s.logs()).includes(token));
});

eachTarget('metrics: requests and latency by route and status, and the queue counts read at most every 10 s', async (t, target) => {
  const w = await world(t, target);
  let clock = 1_000_000;
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix, metrics: { now: () => clock } });
  const token = await w.token(w.learner);
  await s.get(fetchPath({ courseId: w.course.id }), token);
  await s.get(fetchPath({ courseId: w.course.id }), token);
  await s.get(fetchPath({ courseId: w.course.id }));
  await s.get('/nowhere');
  const first = await s.get('/metrics');
  t.is(first.status, 200);
  t.regex(first.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const route = 'route="/api/rescope/:version/scope/skipped"';
  t.true(first.text.includes(`mtc_batch_http_requests_total{method="GET",${route},status="404"} 2`), first.text);
  t.true(first.text.includes(`mtc_batch_http_requests_total{method="GET",${route},status="401"} 1`));
  t.true(first.text.includes('mtc_batch_http_requests_total{method="GET",route="unmatched",status="404"} 1'));
  t.true(first.text.includes(`mtc_batch_http_request_duration_seconds_count{method="GET",${route},status="404"} 2`));
  t.regex(first.text, new RegExp(`mtc_batch_http_request_duration_seconds_bucket\\{le="10",method="GET",${route.replace(/[/:]/g, (c) => `\\${c}`)},status="404"\\} 2`));
  t.true(first.text.includes('mtc_batch_queue_rows{state="queued"} 1'));
  t.true(first.text.includes('mtc_batch_queue_rows{state="failed"} 0'));
  t.true(first.text.includes('mtc_batch_queue_counts_up 1'));
  const malformed = first.text.split('\n').filter((l) => l !== '' && !/^(# (HELP|TYPE) \S+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+)$/.test(l));
  t.deepEqual(malformed, [], 'every line is a comment or a sample');
  t.regex(first.text, /^process_cpu_seconds_total /m);

  await enqueueRequests(w.f.db, { source: 'join.class', classId: w.klass.id, memberIds: [w.learner, w.classmate] });
  clock += 9_000;
  t.true((await s.get('/metrics')).text.includes('mtc_batch_queue_rows{state="queued"} 1'), 'within 10 s the counts are not read again');
  clock += 1_000;
  t.true((await s.get('/metrics')).text.includes('mtc_batch_queue_rows{state="queued"} 3'), 'after 10 s they are');
});

test('readyz is 503 naming Redis when it does not answer within 1 s, and 200 again once it is back', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: single });
  const target = new URL(w.f.redis.url);
  const slow = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port) });
  // In database 3, to show a reconnect goes back to the URL's database.
  const redis = await openRedis({ redisUrl: `${slow.url()}/3` }, { reconnect: 'forever' });
  t.teardown(() => redis.close());
  const token = 'ZGIzdG9rZW4=';
  const sessionKey = `${w.sessionPrefix}${token}`;
  await redis.client.set(sessionKey, JSON.stringify({ user_id: w.learner }), 'EX', 120);
  t.teardown(() => redis.client.unlink(sessionKey).then(() => undefined, () => undefined));
  const s = await testServer(t, { db: w.f.db, redis: redis.client, sessionPrefix: w.sessionPrefix });
  t.is((await s.get('/readyz')).status, 200);
  t.is((await s.get(fetchPath({ courseId: w.course.id }), token)).status, 404, 'the session is found in database 3');
  await slow.close();
  const down = await s.get('/readyz');
  t.is(down.status, 503);
  t.like(down.json(), { database: 'ok' });
  t.regex(down.json<{ message: string }>().message, /^not ready: redis: /);
  t.is((await s.get('/healthz')).status, 200, 'alive all the same');
  // Redis comes back on the same address: serve reconnects by itself (nothing is sent
  // meanwhile, so the reconnect alone must choose the database).
  const ready = new Promise((resolve) => redis.client.once('ready', resolve));
  const back = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port), port: slow.port });
  t.teardown(() => back.close());
  await ready;
  t.is((await s.get('/readyz')).status, 200);
  t.is((await s.get(fetchPath({ courseId: w.course.id }), token)).status, 404, 'after the reconnect too: still database 3');
  const delayed = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port), delayMs: 1_500 });
  t.teardown(() => delayed.close());
  const late = await openRedis({ redisUrl: delayed.url() });
  t.teardown(() => late.close());
  const s2 = await testServer(t, { db: w.f.db, redis: late.client, sessionPrefix: w.sessionPrefix });
  const started = Date.now();
  const slowAnswer = await s2.get('/readyz');
  t.true(Date.now() - started < 1_400, 'answered after 1 s, not when Redis finally does');
  t.deepEqual(slowAnswer.json(), { message: 'not ready: redis: no answer within 1000 ms', database: 'ok', redis: 'no answer within 1000 ms' });
});

postgresOnly('metrics: a database that hangs or is down costs a scrape its queue figures (absent, counts_up 0), within 2 s, never the rest', async (t) => {
  const w = await world(t, { dialect: 'postgres', redis: single });
  const pg = new URL(postgresUrl);
  const slow = await startTcpProxy({ targetHost: pg.hostname, targetPort: Number(pg.port || 5432), delayMs: 3_000 });
  t.teardown(() => slow.close());
  const url = new URL(postgresUrl);
  url.port = String(slow.port);
  const db = await openDatabase({ databaseUrl: url.toString(), databaseSchema: w.f.db.schema });
  t.teardown(() => db.close());
  const s = await testServer(t, { db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  await s.get('/healthz');
  const started = Date.now();
  const scrape = await s.get('/metrics');
  const tookMs = Date.now() - started;
  t.is(scrape.status, 200);
  t.true(tookMs < 3_000, `answered after ${tookMs} ms`);
  t.true(scrape.text.includes('mtc_batch_queue_counts_up 0'), scrape.text);
  t.false(/^mtc_batch_queue_rows\{/m.test(scrape.text), 'no row counts');
  t.false(/^mtc_batch_queue_oldest_queued_age_seconds /m.test(scrape.text), 'no age sample: an alert on it cannot read "0 s"');
  t.true(scrape.text.includes('# TYPE mtc_batch_queue_oldest_queued_age_seconds gauge'));
  t.true(scrape.text.includes('mtc_batch_http_requests_total{method="GET",route="/healthz",status="200"} 1'), 'the rest of the scrape is there');
  t.regex(scrape.text, /^process_cpu_seconds_total /m);
  t.true(s.logs().some((r) => r.msg === 'metrics: the queue counts took longer than 2000 ms; left out of this scrape'));
});

postgresOnly('readyz is 503 naming the database when it cannot be reached', async (t) => {
  const w = await world(t, { dialect: 'postgres', redis: single });
  const pg = new URL(postgresUrl);
  const proxy = await startTcpProxy({ targetHost: pg.hostname, targetPort: Number(pg.port || 5432) });
  const url = new URL(postgresUrl);
  url.port = String(proxy.port);
  const db = await openDatabase({ databaseUrl: url.toString(), databaseSchema: w.f.db.schema });
  t.teardown(() => db.close());
  const s = await testServer(t, { db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  t.is((await s.get('/readyz')).status, 200);
  await proxy.close();
  const down = await s.get('/readyz');
  t.is(down.status, 503);
  t.like(down.json(), { redis: 'ok' });
  t.regex(down.json<{ message: string }>().message, /^not ready: database: /);
});

/** A raw connection to the server at `url` (destroyed with the test): what it received so far, and when it closed. */
function rawConnection(t: ExecutionContext, url: string): { socket: Socket; received(): string; closed: Promise<void> } {
  const { port } = new URL(url);
  const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
  t.teardown(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, received: () => received, closed };
}

/** Sends `text` as it is on a new connection and returns everything the server answered until it closed. */
async function rawExchange(t: ExecutionContext, url: string, text: string): Promise<{ answer: string; tookMs: number }> {
  const connection = rawConnection(t, url);
  const started = performance.now();
  connection.socket.write(text);
  await connection.closed;
  return { answer: connection.received(), tookMs: performance.now() - started };
}

eachTarget('a client that stalls on its headers gets 408 soon after the deadline, not up to 30 s later, in the API\'s error shape and in the access log', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix, headersTimeoutMs: 1_000 });
  const { answer, tookMs } = await rawExchange(t, s.server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
  t.regex(answer, /^HTTP\/1\.1 408 /);
  t.regex(answer, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
  t.true(answer.endsWith('\r\n\r\n{"message":"the request was not received in time"}'), answer);
  t.true(tookMs >= 900 && tookMs < 3_000, `closed after ${Math.round(tookMs)} ms with a 1 s deadline`);
  const logged = s.logs().filter((r) => r.msg === 'request');
  t.is(logged.length, 1);
  t.like(logged[0], { level: 'info', route: 'unmatched', status: 408 });
  t.regex(String(logged[0]!.reason), /^the request was not received in time \(ERR_HTTP_REQUEST_TIMEOUT\)$/);
  t.true((await s.get('/metrics')).text.includes('mtc_batch_http_requests_total{method="unknown",route="unmatched",status="408"} 1'));
});

eachTarget('every refusal says why in its access-log line; HEAD on the Fetch route is 405 and changes nothing', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const teacher = await w.token(w.klass.creatorId);
  const unknownClass = '00000000-0000-4000-8000-00000000abcd';
  const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ['a bad course id', () => s.get(fetchPath({ courseId: 'abc' }), teacher), 400, /^Invalid UUID format$/],
    ['a parameter twice', () => s.get(`${fetchPath({ courseId: w.course.id })}&courseId=${w.course.id}`, teacher), 400, /given more than once/],
    ['a bad source', () => s.post(rescopePath, { source: 'nope', classId: w.klass.id }, teacher), 400, /source/],
    ['an unknown class', () => s.post(rescopePath, { source: 'rescope', classId: unknownClass }, teacher), 404, new RegExp(unknownClass)],
    ['a class the caller does not teach', () => s.post(rescopePath, { source: 'rescope', classId: w.archivedClass.id }, teacher), 403, /\S/],
    ['no content type', () => s.request(rescopePath, { method: 'POST', token: teacher }), 415, /Content-Type must be application\/json/],
    ['an unknown route', () => s.get('/nowhere'), 404, /^no such route$/],
    ['a malformed %-escape', () => s.get('/api/%zz'), 400, /^the URL is not valid \(a malformed %-escape\)$/],
    ['a path segment over 100 characters', () => s.get(`/api/rescope/${'v'.repeat(150)}/scope/skipped?courseId=x`, teacher), 414, /^a part of the path is too long$/],
  ];
  for (const [name, send, status, reason] of cases) {
    const before = s.logs().length;
    const answer = (await send()) as { status: number; text: string; headers: Headers };
    t.is(answer.status, status, name);
    t.regex(answer.headers.get('content-type') ?? '', /^application\/json/, name);
    t.true(answer.text === '' || typeof (JSON.parse(answer.text) as { message?: unknown }).message === 'string', `${name}: ${answer.text}`);
    await new Promise((r) => setTimeout(r, 10));
    const line = s.logs().slice(before).find((r) => r.msg === 'request');
    t.is(line?.status, status, name);
    t.regex(String(line?.reason), reason, name);
  }
  // The route is there (not 404 "Not found"), but a Fetch may queue an oob request, which a HEAD must not.
  const head = await s.request(fetchPath({ courseId: w.course.id }), { method: 'HEAD', token: teacher });
  t.is(head.status, 405);
  t.is(head.headers.get('allow'), 'GET, POST');
  t.is(head.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(head.text, '');
  t.is((await queueRows(w.f.db)).length, 0, 'HEAD queued nothing');
  await new Promise((r) => setTimeout(r, 10));
  t.like(s.logs().filter((r) => r.msg === 'request').at(-1), { method: 'HEAD', route: '/api/rescope/:version/scope/skipped', status: 405, reason: 'HEAD is not answered here, as a Fetch may queue a request: use GET' });
  t.is((await s.request(fetchPath({ courseId: w.course.id }), { method: 'HEAD' })).status, 401, 'without a session, as a GET');
});

test('HEAD on the probes, on metrics and on an unknown path answers as GET does, without the body', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: single });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  for (const path of ['/healthz', '/readyz', '/metrics', '/nowhere']) {
    const get = await s.get(path);
    const head = await s.request(path, { method: 'HEAD' });
    t.is(head.status, get.status, path);
    t.is(head.headers.get('content-type'), get.headers.get('content-type'), path);
    // The metrics grow between the two requests; the others are the same document.
    if (path !== '/metrics') t.is(head.headers.get('content-length'), get.headers.get('content-length'), path);
    t.regex(head.headers.get('content-length') ?? '', /^[1-9]\d*$/, path);
    t.is(head.text, '', path);
  }
});

test('a stop does not wait for a client that has sent only part of its headers (Node stops their deadline once the server closes)', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const { socket, closed } = rawConnection(t, s.server.url);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = performance.now();
  await s.server.stop();
  await closed;
  t.true(performance.now() - started < 3_000, `stopped ${Math.round(performance.now() - started)} ms after asked (the grace is 20 s)`);
  t.false(s.logs().some((r) => /still running/.test(String(r.msg))));
});

test('an unknown route is 404 whatever its body: a JSON body over the limit is not answered 413 as if the route existed', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  for (const path of ['/nope', '/healthz']) {
    const answer = await s.request(path, { method: 'POST', body: Buffer.alloc(1_100_000, 32), contentType: 'application/json' });
    t.is(answer.status, 404, path);
    t.deepEqual(answer.json(), { message: 'Not found' }, path);
  }
  t.like(s.logs().filter((r) => r.msg === 'request').at(-1), { route: 'unmatched', status: 404, reason: 'no such route' });
});

test('a client that stops sending the body of a refused request (401) is one request in the log and the metrics, not two', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const { socket, received, closed } = rawConnection(t, s.server.url);
  socket.write(`POST ${rescopePath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n${'x'.repeat(64 * 1024)}`);
  const deadline = Date.now() + 5_000;
  while (!received().includes('\r\n\r\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.regex(received(), /^HTTP\/1\.1 401 /);
  socket.end();
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const logged = s.logs().filter((r) => r.msg === 'request');
  t.is(logged.length, 1, JSON.stringify(logged));
  t.like(logged[0], { status: 401 });
  t.false((await s.get('/metrics')).text.includes('route="unmatched"'));
});

eachTarget('a request that is not HTTP gets 400 in the API\'s error shape and one access-log line', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const { answer } = await rawExchange(t, s.server.url, 'NOT HTTP AT ALL\r\n\r\n');
  t.regex(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.true(answer.endsWith('{"message":"the request is not valid HTTP"}'), answer);
  const logged = s.logs().filter((r) => r.msg === 'request');
  t.is(logged.length, 1);
  t.like(logged[0], { route: 'unmatched', status: 400 });
  t.is((await s.get('/healthz')).status, 200, 'the server goes on answering');
});

eachTarget('a request with two Authorization headers is 401, even when both hold the same valid token', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.learner);
  const path = fetchPath({ courseId: w.course.id });
  const request = (headers: string) => rawExchange(t, s.server.url, `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`);
  const twice = await request(`Authorization: Token ${token}\r\nauthorization: Token ${token}\r\n`);
  t.regex(twice.answer, /^HTTP\/1\.1 401 /);
  t.true(twice.answer.endsWith('\r\n\r\n'), 'an empty body');
  const once = await request(`Authorization: Token ${token}\r\n`);
  t.regex(once.answer, /^HTTP\/1\.1 404 /, 'one header with the same token passes');
  t.like(s.logs().find((r) => r.msg === 'request' && r.status === 401), { reason: 'more than one Authorization header' });
});
