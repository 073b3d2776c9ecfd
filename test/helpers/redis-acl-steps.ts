/**
 * The steps of test/redis-acl.test.ts: every command that touches Redis, through the real
 * CLI as the jobs' ACL user, along every path that sends Redis something different
 * (dispatch's bus check, a skipped overdue-sync, one that removes entries, one that
 * empties the index…), and the operator commands, which must not touch Redis at all.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { learners, seedClass, seedCompetencies, seedCourse } from '../../src/seed/course-world.js';
import { seedPupil, seedSchool } from '../../src/seed/mtc-world.js';
import { spawnCli, spawnServe } from './cli.js';
import type { AclRun } from './redis-acl.js';

interface Json {
  [key: string]: unknown;
}

/** A session of the platform, written by the default user (the platform's own job). */
async function session(run: AclRun, userId: string): Promise<{ token: string; key: string }> {
  const token = randomBytes(18).toString('base64');
  const key = `${run.keys.sessionPrefix}${token}`;
  await run.admin.set(key, JSON.stringify({ user_id: userId, access_token_validity: 7200 }), 'EX', 600);
  return { token, key };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** enqueue --wait, dispatch, status, process, rescope-show, the operator commands, serve. */
export async function rescopeSteps(run: AclRun): Promise<void> {
  const { t, db, admin } = run;
  const course = await seedCourse(db, { units: [[[{ competencies: ['a'] }, { competencies: ['b'] }]]] });
  const [l1, l2, l3] = learners(3) as [string, string, string];
  const klass = await seedClass(db, { courseId: course.id, members: [l1, l2, l3] });
  await seedCompetencies(db, { [l1]: { a: 'mastered' } });
  const teacher = await session(run, klass.creatorId);
  const learner3 = await session(run, l3);

  // enqueue --wait watches the queue (SQL only) while the scheduled jobs do the work.
  const waiting = spawnCli(['enqueue', '--source', 'join.class', '--class', klass.id, '--member', l1, '--member', l2, '--wait', '60', '--json'], { env: run.env });
  await until('enqueue queued its rows', async () => Number((await db.knex('rescope_queue').count({ n: '*' }))[0]?.n) === 2);
  t.like((await run.cli(['dispatch', '--json', '--max-bus', '100'])).json(), { dispatched: 2 });
  t.like((await run.cli(['status', '--json'])).json<Json>().redis, { bus: 2 });
  t.like((await run.cli(['process', '--json'])).json(), { processed: 2 });
  const waited = await waiting;
  t.is(waited.code, 0, waited.stderr);
  t.like(waited.json<Json>().wait, { outcome: 'finished', done: 2 });
  await run.noDenials('enqueue --wait');

  const show = ['rescope-show', '--token', teacher.token, '--course', course.id, '--class', klass.id, '--user', l1, '--json'];
  t.like((await run.cli(show)).json(), { status: 'found' });
  t.true((await admin.ttl(teacher.key)) > 600, 'the session was extended (EXPIRE)');
  t.like((await run.cli([...show, '--explain'])).json(), { status: 'found', explainMatchesStored: true });
  t.like((await run.cli(['rescope-show', '--token', learner3.token, '--course', course.id, '--class', klass.id, '--json'], 3)).json(), { status: 'queued' });

  // The operator commands work on SQL alone: they never open a connection to Redis.
  const before = await run.connections?.();
  await run.cli(['enqueue', '--source', 'join.class', '--class', klass.id, '--member', l3, '--json']);
  await run.cli(['failed', '--json']);
  await run.cli(['retry-failed', '--all', '--dry-run', '--json']);
  await run.cli(['discard-failed', '--all', '--dry-run', '--json']);
  if (before !== undefined) t.is(await run.connections?.(), before, 'no operator command connected to Redis');

  await serveSteps(run, { course: course.id, klass: klass.id, l1, l3, teacher: teacher.token, learner3: learner3.token });
}

/** serve, one real request of each kind, then SIGTERM. */
async function serveSteps(run: AclRun, w: { course: string; klass: string; l1: string; l3: string; teacher: string; learner3: string }): Promise<void> {
  const { t } = run;
  const { child, url } = await spawnServe(run.env);
  const get = (path: string, token?: string) => fetch(`${url}${path}`, token ? { headers: { authorization: `Token ${token}` } } : {});
  const fetchPath = (q: Record<string, string>) => `/api/rescope/v1/scope/skipped?${new URLSearchParams(q).toString()}`;
  t.is((await get(fetchPath({ courseId: w.course, classId: w.klass, userId: w.l1 }), w.teacher)).status, 200);
  t.is((await get(fetchPath({ courseId: w.course, classId: w.klass }), w.learner3)).status, 404);
  t.is((await get(fetchPath({ courseId: w.course }), randomBytes(18).toString('base64'))).status, 401);
  const posted = await fetch(`${url}/api/rescope/v1/scope/skipped`, {
    method: 'POST',
    headers: { authorization: `Token ${w.teacher}`, 'content-type': 'application/json' },
    body: JSON.stringify({ source: 'join.class', classId: w.klass, memberIds: [w.l3] }),
  });
  t.is(posted.status, 200, await posted.text());
  t.is((await get('/readyz')).status, 200);
  t.is((await get('/healthz')).status, 200);
  t.is((await get('/metrics')).status, 200);
  child.child.kill('SIGTERM');
  const stopped = await child;
  t.is(stopped.code, 0, stopped.stderr);
  t.notRegex(stopped.stderr, /NOPERM/);
  await run.noDenials('serve');
}

/** overdue-sync (dry run, writes, removals, skipped, empty) and notify-invalid, then status. */
export async function notificationSteps(run: AclRun): Promise<void> {
  const { t, db, admin, keys } = run;
  const now = new Date();
  const [a, b, c] = [await seedSchool(db), await seedSchool(db), await seedSchool(db)];
  await seedPupil(db, a.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const leaving = await seedPupil(db, b.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  const failing = await seedPupil(db, c.id, { check: { loggedInMinutesAgo: 5 } }, now);
  const entry = (school: { urlSlug: string }) => admin.exists(`${keys.notificationPrefix}${school.urlSlug}`);

  t.like((await run.cli(['overdue-sync', '--dry-run', '--json'])).json(), { schools: 2 });
  t.is(await admin.exists(keys.notificationIndexKey), 0, 'a dry run writes nothing');
  t.like((await run.cli(['overdue-sync', '--json'])).json(), { schools: 2, removed: 0 });
  t.is(await entry(a), 1);
  t.like((await run.cli(['notify-invalid', '--check-code', failing.checkCode, '--json'])).json(), { handled: 1, schools: 1 });
  t.is(await entry(c), 1);

  await db.knex('check').where({ checkCode: leaving.checkCode }).update({ received: true });
  t.like((await run.cli(['overdue-sync', '--json'])).json(), { schools: 2, removed: 1 });
  t.is(await entry(b), 0);

  // Another run holds the lock: this one does nothing, and notify-invalid meanwhile still
  // writes (and leaves the running sync what it needs to know).
  const lock = `${keys.notificationIndexKey}:lock`;
  await admin.set(lock, `another run ${randomUUID()}`, 'PX', 60_000);
  t.truthy((await run.cli(['overdue-sync', '--json'])).json().skipped);
  const message = JSON.stringify({ version: 1, checkCode: failing.checkCode, notificationType: 'checkInvalid' });
  t.like((await run.cli(['notify-invalid', '--jsonl', '-', '--json'], 0, { stdin: `${message}\n` })).json(), { handled: 1 });
  await admin.del(lock);
  t.like((await run.cli(['overdue-sync', '--json'])).json(), { schools: 2, removed: 0 });
  t.like((await run.cli(['status', '--json'])).json<Json>().redis, { notifications: 2 });

  await db.knex('pupil').update({ attendanceId: 1 });
  t.like((await run.cli(['overdue-sync', '--json'])).json(), { schools: 0, removed: 2 });
  t.is(await admin.exists(keys.notificationIndexKey), 0);
}
