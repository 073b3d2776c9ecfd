import { randomUUID } from 'node:crypto';
import { dispatch } from '../src/rescope/dispatch.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { rescopeShow } from '../src/rescope/show.js';
import { runCli } from './helpers/cli.js';
import { eachTarget } from './helpers/databases.js';
import { queueRows } from './helpers/rescope.js';
import { accessCases, world } from './helpers/rescope-world.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

eachTarget('the access matrix, each rule and its failure', async (t, target) => {
  const w = await world(t, target);
  const c = w.course.id;
  const cases = accessCases(w);
  for (const [name, request, expected] of cases) {
    const outcome = await w.show(request);
    t.is(outcome.status as string, expected, name);
  }
  const unknown = await rescopeShow(w.f.db, w.f.redis.client, { token: 'no-such-token', courseId: c, classId: null }, { sessionPrefix: w.sessionPrefix });
  t.like(unknown, { status: 'unauthorised' });
  const expiring = randomUUID();
  await w.f.redis.client.set(`${w.sessionPrefix}${expiring}`, JSON.stringify({ user_id: w.learner }), 'PX', 30);
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.like(await rescopeShow(w.f.db, w.f.redis.client, { token: expiring, courseId: c, classId: null }, { sessionPrefix: w.sessionPrefix }), { status: 'unauthorised' });
  await w.f.redis.client.set(`${w.sessionPrefix}garbled`, 'not json');
  t.like(await rescopeShow(w.f.db, w.f.redis.client, { token: 'garbled', courseId: c, classId: null }, { sessionPrefix: w.sessionPrefix }), { status: 'unauthorised' });
  await w.f.redis.client.set(`${w.sessionPrefix}anon`, JSON.stringify({ user_id: 'anonymous' }));
  t.like(await rescopeShow(w.f.db, w.f.redis.client, { token: 'anon', courseId: c, classId: null }, { sessionPrefix: w.sessionPrefix }), { status: 'unauthorised', reason: 'the session is anonymous' });
  // A lookup extends the session, with its own validity, as the platform does.
  await w.f.redis.client.set(`${w.sessionPrefix}short`, JSON.stringify({ user_id: w.learner, access_token_validity: 900 }), 'EX', 10);
  t.like(await rescopeShow(w.f.db, w.f.redis.client, { token: 'short', courseId: c, classId: null }, { sessionPrefix: w.sessionPrefix }), { status: 'queued' });
  t.true((await w.f.redis.client.ttl(`${w.sessionPrefix}short`)) > 800);
  // Only the allowed requests queued anything, once per learner, course and class: the
  // learner in independent learning and in class (teacher and co-teacher asked for the
  // same row), and the classmate in class.
  t.is((await queueRows(w.f.db)).length, 3);
});

eachTarget('round trip: not found → queued once → dispatch and process → found with the right content', async (t, target) => {
  const w = await world(t, target);
  const request = { caller: w.klass.creatorId, courseId: w.course.id, classId: w.klass.id, userId: w.learner };
  t.like(await w.show(request), { status: 'queued', alreadyQueued: false });
  t.like(await w.show(request), { status: 'queued', alreadyQueued: true });
  const rows = await queueRows(w.f.db);
  t.is(rows.length, 1);
  t.like(rows[0], { userId: w.learner, courseId: w.course.id, classId: w.klass.id, source: 'oob', priority: 1 });
  const settings = { batchSize: 10, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 1 };
  await dispatch(w.f.db, w.f.bus, settings);
  t.like(await processQueue(w.f.db, w.f.bus, settings), { processed: 1 });
  const found = await w.show(request);
  if (found.status !== 'found') return t.fail(`expected found, got ${found.status}`);
  const [u1] = w.course.units;
  t.is(
    found.content,
    JSON.stringify({ units: [u1!.id], lessons: [u1!.lessons[0]!.id], assessments: [u1!.lessons[0]!.items[0]], collections: [u1!.lessons[0]!.items[1]], assessmentsExternal: [], collectionsExternal: [] }),
  );
});

eachTarget('an archived class without stored content is not applicable, queues nothing, and its stored content is still read', async (t, target) => {
  const w = await world(t, target);
  const request = { caller: w.learner, courseId: w.course.id, classId: w.archivedClass.id };
  t.deepEqual(await w.show(request), { status: 'not-applicable', reason: `class ${w.archivedClass.id} is archived` });
  t.is((await queueRows(w.f.db)).length, 0);
  const stored = '{"units":[],"lessons":[],"assessments":["x"],"collections":[],"assessmentsExternal":[],"collectionsExternal":[]}';
  await w.f.db.knex('rescoped_content').insert({ user_id: w.learner, course_id: w.course.id, class_id: w.archivedClass.id, skipped_content: stored });
  t.like(await w.show(request), { status: 'found', content: stored });
});

eachTarget('a failed row that rescope-show queues again is reported as queued, not as already queued', async (t, target) => {
  const w = await world(t, target);
  const request = { caller: w.learner, courseId: w.course.id, classId: w.klass.id };
  t.like(await w.show(request), { status: 'queued', alreadyQueued: false });
  await w.f.db.knex('rescope_queue').update({ status: 'failed', attempts: 5, last_error: 'boom' });
  t.like(await w.show(request), { status: 'queued', alreadyQueued: false });
  const [row] = await queueRows(w.f.db);
  t.like(row, { status: null, attempts: 0 });
  t.like(await w.show(request), { status: 'queued', alreadyQueued: true });
});

eachTarget('rescope-show on the command line: exit codes and one JSON object for each outcome', async (t, target) => {
  const w = await world(t, target);
  const env = { ...w.f.env, MTC_BATCH_SESSION_PREFIX: w.sessionPrefix };
  const run = async (caller: string | null, ...args: string[]) =>
    runCli(['rescope-show', ...(caller === null ? [] : ['--token', await w.token(caller)]), ...args], { env });

  const queued = await run(w.learner, '--course', w.course.id, '--json');
  t.is(queued.code, 3);
  t.deepEqual(queued.json(), { status: 'queued', alreadyQueued: false });
  const queuedHuman = await run(w.learner, '--course', w.course.id);
  t.regex(queuedHuman.stdout, /^not found: no rescoped content yet .* an oob request was already queued/);

  const stored = '{"units":[],"lessons":[],"assessments":["x"],"collections":[],"assessmentsExternal":[],"collectionsExternal":[]}';
  await w.f.db.knex('rescoped_content').insert({ user_id: w.learner, course_id: w.course.id, class_id: null, skipped_content: stored });
  const found = await run(w.learner, '--course', w.course.id);
  t.is(found.code, 0);
  t.is(found.stdout, `${stored}\n`, 'printed exactly as stored');
  t.deepEqual((await run(w.learner, '--course', w.course.id, '--json')).json(), { status: 'found', content: JSON.parse(stored) });

  const forbidden = await run(w.classmate, '--course', w.course.id, '--class', w.klass.id, '--user', w.learner, '--json');
  t.is(forbidden.code, 4);
  t.like(forbidden.json(), { status: 'forbidden' });
  t.regex(forbidden.json<{ reason: string }>().reason, /neither the learner nor a teacher or co-teacher/);
  const off = await run(w.learner, '--course', w.course.id, '--class', w.offClass.id, '--json');
  t.is(off.code, 5);
  t.like(off.json(), { status: 'not-applicable', reason: `class ${w.offClass.id} has rescope off` });
  const archived = await run(w.learner, '--course', w.course.id, '--class', w.archivedClass.id, '--json');
  t.is(archived.code, 5);
  t.deepEqual(archived.json(), { status: 'not-applicable', reason: `class ${w.archivedClass.id} is archived` });
  const unknown = await runCli(['rescope-show', '--token', 'nope', '--course', w.course.id, '--json'], { env });
  t.is(unknown.code, 4);
  t.like(unknown.json(), { status: 'unauthorised' });
  const badId = await run(w.learner, '--course', 'not-a-uuid');
  t.is(badId.code, 2);
  t.regex(badId.stderr, /--course must be a UUID; got \\"not-a-uuid\\"/);
  const badUser = await run(w.learner, '--course', w.course.id, '--user', '42');
  t.is(badUser.code, 2);
  t.regex(badUser.stderr, /--user must be a UUID/);
  const noToken = await run(null, '--course', w.course.id);
  t.is(noToken.code, 2);
  t.regex(noToken.stderr, /required option '--token <token>' not specified/);
  const spacedToken = await runCli(['rescope-show', '--token', 'a b', '--course', w.course.id], { env });
  t.is(spacedToken.code, 2);
});
