/** `serve`'s Do Rescope route: enqueue's rules, the authorisation the original lacked, and bad bodies. */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import test from 'ava';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';
import { eachTarget } from './helpers/databases.js';
import { queueRows } from './helpers/rescope.js';
import { world } from './helpers/rescope-world.js';
import { useRedisCluster } from './helpers/redis.js';
import { fetchPath, rescopePath, testServer } from './helpers/serve.js';

useRedisCluster();

const summary = (queued: number, more: Partial<Record<'duplicates' | 'dropped' | 'requeued' | 'rescopeOff', number>> = {}) => ({
  queued,
  duplicates: 0,
  dropped: 0,
  requeued: 0,
  rescopeOff: 0,
  ...more,
});

eachTarget('POST: each source queues as enqueue does, and answers once the rows are queued', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const teacher = await w.token(w.klass.creatorId);
  const k = w.klass.id;

  const join = await s.post(rescopePath, { source: 'join.class', classId: k, memberIds: [w.learner, w.stranger] }, teacher);
  t.is(join.status, 200);
  t.deepEqual(join.json(), summary(1, { dropped: 1 }), 'the stranger is not a member: dropped');
  t.deepEqual((await queueRows(w.f.db)).map((r) => [r.userId, r.source]), [[w.learner, 'join.class']], 'queued before the answer');

  const assign = await s.post(rescopePath, { source: 'assign.course.to.class', classId: k, courseId: w.course.id }, await w.token(w.coTeacher));
  t.deepEqual([assign.status, assign.json()], [200, summary(1, { duplicates: 1 })], 'the classmate is new; the learner was queued');
  const setting = await s.post(rescopePath, { source: 'rescope', classId: k }, teacher);
  t.deepEqual([setting.status, setting.json()], [200, summary(0, { duplicates: 2 })]);
  const oob = await s.post(rescopePath, { source: 'oob', courseId: w.course.id, memberIds: [w.learner] }, await w.token(w.learner));
  t.deepEqual([oob.status, oob.json()], [200, summary(1)], 'a learner asks for their own independent learning');
  const off = await s.post(rescopePath, { source: 'rescope', classId: w.offClass.id }, await w.token((await w.f.db.knex('class').first('creator_id').where('id', w.offClass.id)).creator_id));
  t.deepEqual([off.status, off.json()], [200, summary(0, { rescopeOff: 1 })], 'rescope off: nothing queued, and it says so');

  const rows = await queueRows(w.f.db);
  t.is(rows.length, 3);
  t.deepEqual(rows.map((r) => [r.userId, r.classId, r.priority]).sort(), [[w.classmate, k, 3], [w.learner, k, 2], [w.learner, null, 1]].sort());
  t.is((await s.post(rescopePath.replace('/v1/', '/v2/'), { source: 'rescope', classId: k }, teacher)).status, 200, 'v2 too');
  t.is((await s.post(rescopePath.replace('/v1/', '/v9/'), { source: 'rescope', classId: k }, teacher)).status, 501);
});

eachTarget('POST: only the class creator or a co-teacher, or a learner asking for themself alone', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const k = w.klass.id;
  const cases: Array<[string, string, object, number]> = [
    ['a learner joining, for themself', w.classmate, { source: 'join.class', classId: k, memberIds: [w.classmate] }, 200],
    ['a learner asking oob for themself in class', w.learner, { source: 'oob', classId: k, memberIds: [w.learner] }, 200],
    ['a learner asking for a classmate', w.learner, { source: 'join.class', classId: k, memberIds: [w.classmate] }, 403],
    ['a learner asking for themself and a classmate', w.learner, { source: 'oob', classId: k, memberIds: [w.learner, w.classmate] }, 403],
    ['a learner asking for the whole class', w.learner, { source: 'rescope', classId: k }, 403],
    ['a stranger assigning a course', w.stranger, { source: 'assign.course.to.class', classId: k }, 403],
    ['the teacher of another class', w.otherClass.creatorId, { source: 'rescope', classId: k }, 403],
    ['someone asking oob for another learner in independent learning', w.classmate, { source: 'oob', courseId: w.course.id, memberIds: [w.learner] }, 403],
    ['a stranger asking for a deleted class', w.stranger, { source: 'rescope', classId: w.deletedClass.id }, 403],
    ['the co-teacher', w.coTeacher, { source: 'join.class', classId: k, memberIds: [w.learner, w.classmate] }, 200],
  ];
  for (const [name, caller, body, status] of cases) {
    const answer = await s.post(rescopePath, body, await w.token(caller));
    t.is(answer.status, status, name);
    if (status === 403) t.regex(answer.json<{ message: string }>().message, /neither the creator nor a co-teacher|may only ask for themself/, name);
  }
  t.deepEqual((await queueRows(w.f.db)).map((r) => r.userId).sort(), [w.learner, w.classmate].sort(), 'refused requests queued nothing');
});

eachTarget('POST: unknown class or course 404; deleted or archived class, course without version 400', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const creatorOf = async (classId: string) => w.token(String((await w.f.db.knex('class').first('creator_id').where('id', classId)).creator_id));
  const unknownClass = randomUUID();
  const answers: Array<[string, Awaited<ReturnType<typeof s.post>>, number, RegExp]> = [
    ['unknown class', await s.post(rescopePath, { source: 'join.class', classId: unknownClass, memberIds: [w.learner] }, await w.token(w.learner)), 404, /class .* does not exist/],
    ['unknown class, class-wide', await s.post(rescopePath, { source: 'rescope', classId: unknownClass }, await w.token(w.learner)), 404, /does not exist/],
    ['unknown course', await s.post(rescopePath, { source: 'oob', courseId: randomUUID(), memberIds: [w.learner] }, await w.token(w.learner)), 404, /course .* does not exist/],
    ['deleted class', await s.post(rescopePath, { source: 'rescope', classId: w.deletedClass.id }, await creatorOf(w.deletedClass.id)), 400, /is deleted/],
    ['archived class', await s.post(rescopePath, { source: 'rescope', classId: w.archivedClass.id }, await creatorOf(w.archivedClass.id)), 400, /is archived/],
    ['course without version', await s.post(rescopePath, { source: 'oob', courseId: w.noVersion.id, memberIds: [w.learner] }, await w.token(w.learner)), 400, /has no version/],
    ['not the class course', await s.post(rescopePath, { source: 'rescope', classId: w.klass.id, courseId: w.otherCourse.id }, await creatorOf(w.klass.id)), 400, /is not the course of class/],
  ];
  for (const [name, answer, status, message] of answers) {
    t.is(answer.status, status, name);
    t.regex(answer.json<{ message: string }>().message, message, name);
  }
  t.is((await queueRows(w.f.db)).length, 0);
});

eachTarget('POST: bodies that are not JSON, of the wrong shape, too large or of another type', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.klass.creatorId);
  const post = (body: string | Buffer | undefined, contentType: string | null = 'application/json') => s.request(rescopePath, { method: 'POST', token, body, contentType });
  const k = w.klass.id;
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, RegExp]> = [
    ['not JSON', await post('{"source":'), 400, /not valid JSON/],
    ['empty', await post(''), 400, /cannot be empty/],
    ['an array', await post('[]'), 400, /must be a JSON object/],
    ['source a number', await post(JSON.stringify({ source: 5, classId: k })), 400, /^source must be one of oob, join.class, assign.course.to.class, rescope; got 5$/],
    ['memberIds a string', await post(JSON.stringify({ source: 'join.class', classId: k, memberIds: w.learner })), 400, /^memberIds must be an array of UUIDs/],
    ['a member id not a UUID', await post(JSON.stringify({ source: 'join.class', classId: k, memberIds: [w.learner, 7] })), 400, /^memberIds\[1\] must be a UUID; got 7$/],
    ['classId not a UUID', await post(JSON.stringify({ source: 'rescope', classId: 'abc' })), 400, /^classId must be a UUID/],
    ['an unknown field', await post(JSON.stringify({ source: 'rescope', classId: k, force: true })), 400, /unknown field "force"/],
    ['a key twice', await post(`{"source":"join.class","classId":"${k}","memberIds":["${w.learner}"],"memberIds":[]}`), 400, /^the body is refused: the key "memberIds" appears twice in one object$/],
    ['__proto__', await post(`{"source":"rescope","classId":"${k}","__proto__":{"x":1}}`), 400, /unknown field "__proto__"/],
    ['nested too deep', await post(`{"source":"rescope","classId":"${k}","memberIds":${'['.repeat(40)}${']'.repeat(40)}}`), 400, /nested deeper than 32 levels/],
    ['a byte-order mark alone', await post(bom), 400, /cannot be empty/],
    ['a byte-order mark twice', await post(Buffer.concat([bom, bom, Buffer.from('{}')])), 400, /not valid JSON/],
    ['2 MiB', await post(Buffer.alloc(2 * 1024 * 1024, 0x20)), 413, /too large/],
    ['text/plain', await post(JSON.stringify({ source: 'rescope', classId: k }), 'text/plain'), 415, /Unsupported Media Type/],
    ['form data', await post('source=rescope', 'application/x-www-form-urlencoded'), 415, /Unsupported Media Type/],
    ['no content type, no body', await post(undefined, null), 415, /Content-Type must be application\/json/],
  ];
  for (const [name, answer, status, message] of cases) {
    t.is(answer.status, status, name);
    t.is(answer.headers.get('content-type'), 'application/json; charset=utf-8', name);
    t.regex(answer.json<{ message: string }>().message, message, name);
  }
  const justUnder = JSON.stringify({ source: 'rescope', classId: k }).padEnd(1024 * 1024 - 1, ' ');
  t.is((await post(justUnder)).status, 200, 'a body just under 1 MiB is read');
  t.is((await post(JSON.stringify({ source: 'rescope', classId: k }), 'application/json; charset=utf-8')).status, 200);
  t.is((await queueRows(w.f.db)).length, 2, 'only the two good requests queued');
  // A byte-order mark before the JSON (some Windows tools write one) is dropped, as on a
  // --jsonl line; RFC 8259 lets a parser ignore it.
  const withBom = await post(Buffer.concat([bom, Buffer.from(JSON.stringify({ source: 'join.class', classId: k, memberIds: [w.learner] }))]));
  t.is(withBom.status, 200, withBom.text);
  t.deepEqual(withBom.json(), summary(0, { duplicates: 1 }), 'read as the request it is: the learner is already queued');
});

/** A POST from node:http, as a Node client sends one: with its length, or chunked as it is written. */
function postWithNodeHttp(url: string, token: string, body: Buffer, sent: 'with Content-Length' | 'chunked'): Promise<{ status: number; contentType: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Token ${token}`, 'content-type': 'application/json' };
    if (sent === 'with Content-Length') headers['content-length'] = body.length;
    const req = httpRequest(`${url}${rescopePath}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text }));
      res.on('error', reject);
    });
    // An error before the answer is the failure this guards against (a reset instead of 413).
    req.on('error', reject);
    if (sent === 'with Content-Length') req.end(body);
    else {
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    }
  });
}

test('a body over 1 MiB from node:http, with its length or chunked, gets 413 in the API\'s shape, and serve answers the next request', async (t) => {
  const w = await world(t, { dialect: 'sqlite', redis: 'single' });
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const token = await w.token(w.klass.creatorId);
  // Chunked, fastify reads the first MiB before it refuses; with a length it refuses at once.
  const body = Buffer.from(JSON.stringify({ source: 'join.class', classId: w.klass.id, memberIds: [w.learner], pad: 'x'.repeat(2 * 1024 * 1024) }));
  for (const sent of ['with Content-Length', 'chunked'] as const) {
    const answer = await postWithNodeHttp(s.server.url, token, body, sent);
    t.is(answer.status, 413, sent);
    t.is(answer.contentType, 'application/json; charset=utf-8', sent);
    t.deepEqual(JSON.parse(answer.text), { message: 'Request body is too large' }, sent);
    t.is((await s.get('/healthz')).status, 200, `${sent}: serve answers the next request`);
  }
  const good = await s.post(rescopePath, { source: 'join.class', classId: w.klass.id, memberIds: [w.learner] }, token);
  t.deepEqual(good.json(), summary(1), 'and queues a good one');
  await new Promise((r) => setTimeout(r, 10));
  t.is(s.logs().filter((r) => r.msg === 'request' && r.status === 413 && r.reason === 'Request body is too large').length, 2);
});

eachTarget('POST override over HTTP: content is recomputed and replaced, and a reader polling GET meanwhile never gets 404', async (t, target) => {
  const w = await world(t, target);
  const s = await testServer(t, { db: w.f.db, redis: w.f.redis.client, sessionPrefix: w.sessionPrefix });
  const course = await seedCourse(w.f.db, { units: [[[{ competencies: ['a'] }], [{ format: 'collection', competencies: ['b'] }]]] });
  const members = learners(60);
  const klass = await seedClass(w.f.db, { courseId: course.id, members });
  const teacher = await w.token(klass.creatorId);
  const settings = { batchSize: 10, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1, batches: 100, maxBusLength: 10_000 };
  t.deepEqual((await s.post(rescopePath, { source: 'rescope', classId: klass.id }, teacher)).json(), summary(60));
  await dispatch(w.f.db, w.f.bus, settings);
  t.like(await processQueue(w.f.db, w.f.bus, settings), { processed: 60 });
  const tokens = await Promise.all(members.map((m) => w.token(m)));
  const path = (i: number) => fetchPath({ courseId: course.id, classId: klass.id, userId: members[i] });
  const before = await s.get(path(0), tokens[0]);
  t.is(before.status, 200);
  t.deepEqual(before.json<{ assessments: string[] }>().assessments, []);

  // Their competencies change; without override a request leaves content alone.
  await seedCompetencies(w.f.db, Object.fromEntries(members.map((m) => [m, { a: 'mastered' }])));
  t.deepEqual((await s.post(rescopePath, { source: 'rescope', classId: klass.id }, teacher)).json(), summary(60));
  await dispatch(w.f.db, w.f.bus, settings);
  t.like(await processQueue(w.f.db, w.f.bus, settings), { processed: 0, alreadyDone: 60 });
  t.deepEqual((await s.get(path(0), tokens[0])).json<{ assessments: string[] }>().assessments, []);

  const override = await s.post(rescopePath, { source: 'rescope', classId: klass.id, override: true }, teacher);
  t.deepEqual([override.status, override.json()], [200, summary(60)]);
  t.is((await s.post(rescopePath, { source: 'rescope', classId: klass.id, override: 'yes' }, teacher)).status, 400, 'override must be a boolean');
  await dispatch(w.f.db, w.f.bus, settings);
  let running = true;
  const statuses = new Map<number, number>();
  const polling = (async () => {
    for (let i = 0; running; i = (i + 1) % members.length) {
      const { status } = await s.get(path(i), tokens[i]);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  })();
  const result = await processQueue(w.f.db, w.f.bus, { ...settings, batchSize: 5, onBatch: () => new Promise((resolve) => setTimeout(resolve, 20)) });
  running = false;
  await polling;
  t.like(result, { processed: 60, failed: 0 });
  t.deepEqual([...statuses.keys()], [200], `every GET during process was 200: ${JSON.stringify([...statuses])}`);
  t.true((statuses.get(200) ?? 0) > 1, `the reader polled ${statuses.get(200)} times`);
  const lesson = course.units[0]!.lessons[0]!;
  for (let i = 0; i < members.length; i += 7) {
    const after = await s.get(path(i), tokens[i]);
    t.like(after.json(), { assessments: [lesson.items[0]], lessons: [lesson.id] }, 'the new competencies are in');
  }
});
