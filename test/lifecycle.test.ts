import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { seedCourse } from '../src/seed/course-world.js';
import { learners } from '../src/seed/course-world.js';
import { spawnCli, untilStderr } from './helpers/cli.js';
import { eachDialect } from './helpers/databases.js';
import { queueRows, rescopeFixture } from './helpers/rescope.js';

const leaky = fileURLToPath(new URL('./fixtures/leaky-main.js', import.meta.url));

test('a command that leaves a handle open still exits, and says why', async (t) => {
  const started = Date.now();
  const child = spawn(process.execPath, [leaky, '--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 0);
  t.regex(stderr, /a connection or timer was still open 3000 ms after the command finished; exiting with code 0/);
  t.true(Date.now() - started < 10_000);
});

eachDialect('enqueue --jsonl stops on SIGTERM, handles what it read, and names the last line', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }]]] });
  const members = learners(3);
  const worker = spawnCli(['enqueue', '--jsonl', '-', '--json', '--verbose'], { env: f.env, keepStdinOpen: true });
  for (const member of members) worker.child.stdin!.write(`${JSON.stringify({ source: 'oob', courseId: course.id, memberIds: [member] })}\n`);
  // Signal once it reads its input (start-up takes longer on a loaded machine), then give
  // it a moment to take in the lines already waiting in the pipe.
  await untilStderr(worker, 'reading requests from --jsonl -');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const signalled = Date.now();
  worker.child.kill('SIGTERM');
  const r = await worker;
  t.true(Date.now() - signalled < 5_000);
  t.is(r.code, 1, r.stderr);
  t.like(r.json(), { queued: 3, interruptedAfterLine: 3 });
  t.regex(r.stderr, /received SIGTERM: stopping after the current work/);
  t.regex(r.stderr, /stopped early: received SIGTERM/);
  t.is((await queueRows(f.db)).length, 3);
});

eachDialect('process stops on SIGINT like on SIGTERM', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const worker = spawnCli(['process', '--wait-seconds', '60', '--json', '--verbose'], { env: f.env });
  await untilStderr(worker, 'taking ids from');
  worker.child.kill('SIGINT');
  const r = await worker;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /received SIGINT/);
  t.like(r.json(), { stoppedBy: 'signal' });
});
