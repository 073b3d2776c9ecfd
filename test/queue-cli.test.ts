import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { learners, seedClass, seedCourse } from '../src/seed/course-world.js';
import { runCli, spawnCli, untilStderr } from './helpers/cli.js';
import { eachTarget } from './helpers/databases.js';
import { contentRows, queueRows, rescopeFixture } from './helpers/rescope.js';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

const oneItem = { units: [[[{ competencies: ['a'] }]]] };

eachTarget('enqueue, dispatch and process from the command line, each with one JSON object', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const course = await seedCourse(f.db, oneItem);
  const klass = await seedClass(f.db, { courseId: course.id, members: learners(3) });
  const queued = await runCli(['enqueue', '--source', 'assign.course.to.class', '--class', klass.id, '--json'], { env: f.env });
  t.is(queued.code, 0, queued.stderr);
  t.deepEqual(queued.json(), { queued: 3, duplicates: 0, dropped: 0, requeued: 0, rescopeOff: 0, rejected: [] });
  const dispatched = await runCli(['dispatch', '--json'], { env: f.env });
  t.is(dispatched.code, 0, dispatched.stderr);
  t.deepEqual(dispatched.json(), { recovered: 0, failed: 0, dispatched: 3, busFull: false });
  const processed = await spawnCli(['process', '--json', '--concurrency', '2'], { env: f.env });
  t.is(processed.code, 0, processed.stderr);
  t.like(processed.json(), { processed: 3, alreadyDone: 0, retried: 0, failed: 0, stoppedBy: 'bus-empty' });
  t.is((await contentRows(f.db)).length, 3);
  const status = await runCli(['status', '--json'], { env: f.env });
  t.like(status.json(), { queue: { queued: 0, dispatched: 0, processing: 0, failed: 0 }, rescopedContent: 3 });
});

eachTarget("a bus key holding another program's value: dispatch and process exit 2 naming it, and the rows stay queued", async (t, target) => {
  const f = await rescopeFixture(t, target);
  const course = await seedCourse(f.db, oneItem);
  const klass = await seedClass(f.db, { courseId: course.id, members: learners(2) });
  t.is((await runCli(['enqueue', '--source', 'assign.course.to.class', '--class', klass.id], { env: f.env })).code, 0);
  await f.redis.client.set(f.bus.key, 'another program');
  for (const command of ['dispatch', 'process']) {
    const r = await runCli([command, '--json'], { env: f.env });
    t.is(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
    t.true(r.json<{ error: { message: string } }>().error.message.startsWith(`the bus key ${f.bus.key} holds another kind of value than a list of queue row ids`), r.stdout);
  }
  t.deepEqual((await queueRows(f.db)).map((r) => r.status), [null, null]);
  t.is(await f.redis.client.get(f.bus.key), 'another program', 'left as it was');
});

eachTarget('enqueue by flags: exit codes name what is wrong', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const course = await seedCourse(f.db, oneItem);
  const noVersion = await seedCourse(f.db, { ...oneItem, version: null });
  const [member] = learners(1) as [string];
  const off = await seedClass(f.db, { courseId: course.id, members: [member], rescope: false });
  const deleted = await seedClass(f.db, { courseId: course.id, members: [member], deleted: true });
  const run = (...args: string[]) => runCli(['enqueue', ...args], { env: { ...f.env, MTC_BATCH_LOG_FORMAT: 'human' } });

  const offResult = await run('--source', 'rescope', '--class', off.id);
  t.is(offResult.code, 0);
  t.regex(offResult.stdout, new RegExp(`class ${off.id} has rescope off: nothing queued`));

  const badId = await run('--source', 'join.class', '--class', 'abc', '--member', member);
  t.is(badId.code, 2);
  t.regex(badId.stderr, /--class must be a UUID; got "abc"/);
  const badSource = await run('--source', 'join', '--class', off.id);
  t.is(badSource.code, 2);
  t.regex(badSource.stderr, /--source must be one of oob, join\.class/);
  t.is((await run('--source', 'rescope', '--class', '99999999-9999-4999-8999-999999999999')).code, 3);
  t.is((await run('--source', 'join.class', '--class', deleted.id, '--member', member)).code, 5);
  const il = await run('--source', 'oob', '--course', noVersion.id, '--member', member);
  t.is(il.code, 5);
  t.regex(il.stderr, /has no version/);
  t.is((await run()).code, 2);
  t.is((await run('--jsonl', '-', '--source', 'rescope')).code, 2);
  const missingFile = await run('--jsonl', '/nonexistent/requests.jsonl');
  t.is(missingFile.code, 2);
  t.regex(missingFile.stderr, /cannot read --jsonl \/nonexistent\/requests\.jsonl/);
  t.deepEqual(await queueRows(f.db), []);
});

eachTarget('enqueue --jsonl reports bad lines by number, queues the good ones, and exits 6', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const course = await seedCourse(f.db, oneItem);
  const [a, b, c] = learners(3) as [string, string, string];
  const klass = await seedClass(f.db, { courseId: course.id, members: [a, b] });
  const lines = [
    JSON.stringify({ source: 'join.class', classId: klass.id, memberIds: [a, c] }),
    '{"source": "oob", ',
    JSON.stringify({ source: 'oob', courseId: course.id, memberIds: ['nope'] }),
    '',
    JSON.stringify({ source: 'rescope', classId: '99999999-9999-4999-8999-999999999999' }),
    JSON.stringify({ source: 'oob', courseId: course.id, memberIds: [c] }),
    JSON.stringify({ source: 'rescope', classId: klass.id }),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-jsonl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'requests.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const r = await runCli(['enqueue', '--jsonl', file, '--json'], { env: f.env });
  t.is(r.code, 6);
  const out = r.json<{ queued: number; duplicates: number; dropped: number; rejected: Array<{ line: number; error: string }> }>();
  t.like(out, { queued: 3, duplicates: 1, dropped: 1 });
  t.deepEqual(out.rejected.map((x) => x.line), [2, 3, 5]);
  t.regex(out.rejected[0]!.error, /not valid JSON/);
  t.regex(out.rejected[1]!.error, /memberIds\[0\] must be a UUID/);
  t.regex(out.rejected[2]!.error, /does not exist/);
  t.is((await queueRows(f.db)).length, 3);

  const fromStdin = await runCli(['enqueue', '--jsonl', '-', '--json'], { env: f.env, stdin: `${lines[0]}\n` });
  t.is(fromStdin.code, 0);
  t.like(fromStdin.json(), { queued: 0, duplicates: 1, dropped: 1 });
});

eachTarget('queue flags are validated with the flag named', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const badBatch = await runCli(['dispatch', '--batch-size', '0'], { env: f.env });
  t.is(badBatch.code, 2);
  t.regex(badBatch.stderr, /--batch-size must be a whole number from 1 to 50000; got \\"0\\"/);
  const badMax = await runCli(['process', '--max', 'lots'], { env: f.env });
  t.is(badMax.code, 2);
  t.regex(badMax.stderr, /--max must be a whole number/);
  const badEnv = await runCli(['process'], { env: { ...f.env, MTC_BATCH_CONCURRENCY: '100' } });
  t.is(badEnv.code, 2);
  t.regex(badEnv.stderr, /MTC_BATCH_CONCURRENCY must be a whole number from 1 to 64/);
});

eachTarget('process exits promptly on SIGTERM, saying so, with nothing lost', async (t, target) => {
  const f = await rescopeFixture(t, target);
  const worker = spawnCli(['process', '--wait-seconds', '60', '--json', '--verbose'], { env: f.env });
  await untilStderr(worker, 'taking ids from');
  const signalled = Date.now();
  worker.child.kill('SIGTERM');
  const r = await worker;
  t.true(Date.now() - signalled < 5_000, `took ${Date.now() - signalled} ms`);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /received SIGTERM: stopping after the current work/);
  t.like(r.json(), { processed: 0, stoppedBy: 'signal', released: 0 });
});
