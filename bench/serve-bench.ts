/**
 * `serve` against a bare `node:http` handler, side by side in one run, on local PostgreSQL
 * and Redis: GET of stored content for learners in a class (each request a random learner
 * reading themself with their own session), 10 s at 50 connections with autocannon.
 *
 *   - serve: the real `mtc-batch serve` process (fastify, auth hook, the one-statement
 *     fetch through knex, decideAccess, metrics, one JSON access-log line per request
 *     written to a file as a container runtime would take it);
 *   - bare: bench/bare-fetch-server.ts, the minimum the same answer needs (session GET and
 *     EXPIRE, the same one SQL statement through pg directly, the 200).
 *
 * Rounds alternate which goes first (serve, bare, bare, serve, …) so drift on a shared
 * machine falls on both. Target: serve ≥ 0.8 × bare requests per second.
 *
 * Run: npm run bench:serve
 * Env: MTC_BATCH_BENCH_POSTGRES_URL, MTC_BATCH_BENCH_REDIS_URL, BENCH_ROUNDS (default 3),
 *      BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50), BENCH_LEARNERS (2,000),
 *      BENCH_WARMUP_REQUESTS (answers each server gives before the rounds, default 5,000),
 *      BENCH_PROFILE_DIR (serve writes a V8 CPU profile there).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { RescopeBus } from '../src/rescope/bus.js';
import { dispatch } from '../src/rescope/dispatch.js';
import { enqueue } from '../src/rescope/enqueue.js';
import { processQueue } from '../src/rescope/process-queue.js';
import { learners, seedClass, seedCompetencies, seedCourse } from '../src/seed/course-world.js';

const pgUrl = process.env.MTC_BATCH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.MTC_BATCH_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const learnerCount = Number(process.env.BENCH_LEARNERS ?? 2_000);
const warmupRequests = Number(process.env.BENCH_WARMUP_REQUESTS ?? 5_000);
const schema = `bench_serve_${randomBytes(4).toString('hex')}`;
const prefix = `bench:serve:${randomBytes(4).toString('hex')}:`;
const bin = fileURLToPath(new URL('../../bin/mtc-batch', import.meta.url));
const bareScript = fileURLToPath(new URL('./bare-fetch-server.js', import.meta.url));
const fmt = (n: number) => Math.round(n).toLocaleString('en-GB');

interface Learner {
  userId: string;
  token: string;
}

interface Measure {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** CPU time of the server process per request, ms (from /proc): steadier than req/s on a shared machine. */
  cpuMs: number;
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'mtc-batch-serve-bench-'));
  const children: ChildProcess[] = [];
  let collector: ChildProcess | undefined;
  const redis = new Redis(redisUrl);
  const db = await openDatabase({ databaseUrl: pgUrl, databaseSchema: schema }, { poolSize: 4 });
  let people: Learner[] = [];
  try {
    await migrate(db);
    const { classId, courseId } = await seedWorld(db, redis);
    people = await sessions(redis, classId);
    console.log(`PostgreSQL ${pgUrl.replace(/:[^:@/]*@/, ':***@')} schema ${schema}; ${fmt(people.length)} learners with stored content and sessions`);

    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: pgUrl, MTC_BATCH_DATABASE_SCHEMA: schema, REDIS_URL: redisUrl, MTC_BATCH_SESSION_PREFIX: prefix, MTC_BATCH_LOG_FORMAT: 'json' };
    const [servePort, barePort] = [await freePort(), await freePort()];
    // serve's log goes through a pipe to a reader that writes the file, as a container
    // runtime takes a pod's stderr: the writes of serve itself are to the pipe.
    const serveLog = join(logDir, 'serve.log');
    const logFd = openSync(serveLog, 'w');
    collector = spawn('cat', [], { stdio: ['pipe', logFd, 'inherit'] });
    // BENCH_PROFILE_DIR=<dir>: both servers write a V8 CPU profile there when they stop
    // (serve-<time>.cpuprofile, bare-<time>.cpuprofile), to compare where each spends its time.
    const profile = (name: string) => (process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : []);
    children.push(spawn(process.execPath, [...profile('serve'), bin, 'serve', '--serve-port', String(servePort)], { env, stdio: ['ignore', 'ignore', collector.stdin!] }));
    children.push(spawn(process.execPath, [...profile('bare'), bareScript], { env: { ...env, BARE_PORT: String(barePort) }, stdio: ['ignore', 'ignore', 'inherit'] }));
    closeSync(logFd);
    await Promise.all([waitForHttp(servePort), waitForHttp(barePort)]);

    const path = (l: Learner) => `/api/rescope/v1/scope/skipped?courseId=${courseId}&classId=${classId}&userId=${l.userId}`;
    const targets = { serve: { port: servePort, pid: children[0]!.pid! }, bare: { port: barePort, pid: children[1]!.pid! } } as const;
    // Warm both (JIT compilation of every path, pools, caches) before anything is counted:
    // serve has more code to compile, and 2 s left TurboFan busy in the first measured run.
    // Compilation follows how often code ran, not time: each server gets at least 5 s and
    // at least `warmupRequests` answers, so a slow spell on a shared machine does not leave
    // one of them cold.
    for (const [name, target] of Object.entries(targets)) {
      let answered = 0;
      let cpu = 0;
      for (let round = 0; round === 0 || answered < warmupRequests; round++) {
        const warm = await load(target, people, path, 5);
        answered += warm.requests;
        cpu += warm.cpuMs * warm.requests;
      }
      console.log(`warm-up ${name.padEnd(5)} ${fmt(answered)} requests, ${(cpu / answered).toFixed(3)} ms CPU/request`);
    }
    const results: Record<keyof typeof targets, Measure[]> = { serve: [], bare: [] };
    for (let round = 0; round < rounds; round++) {
      const order: Array<keyof typeof targets> = round % 2 === 0 ? ['serve', 'bare'] : ['bare', 'serve'];
      for (const name of order) {
        const m = await load(targets[name], people, path, seconds);
        results[name].push(m);
        console.log(`round ${round + 1} ${name.padEnd(5)} ${fmt(m.rps).padStart(7)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  ${m.cpuMs.toFixed(3)} ms CPU/request  (${fmt(m.requests)} requests)`);
      }
    }
    const mean = (ms: Measure[], k: keyof Measure) => ms.reduce((sum, m) => sum + m[k], 0) / ms.length;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const serve = mean(results.serve, 'rps');
    const bare = mean(results.bare, 'rps');
    // Each round's two runs are next to each other in time: their ratio is the fairest
    // comparison when other work on the machine comes and goes.
    const ratios = results.serve.map((m, i) => m.rps / results.bare[i]!.rps);
    console.log('');
    console.log(`serve: ${fmt(serve)} req/s, p99 ${mean(results.serve, 'p99').toFixed(1)} ms, ${mean(results.serve, 'cpuMs').toFixed(3)} ms CPU/request (mean of ${rounds} rounds of ${seconds} s at ${connections} connections)`);
    console.log(`bare:  ${fmt(bare)} req/s, p99 ${mean(results.bare, 'p99').toFixed(1)} ms, ${mean(results.bare, 'cpuMs').toFixed(3)} ms CPU/request`);
    console.log(`ratio: ${(serve / bare).toFixed(2)} of the means; per round ${ratios.map((r) => r.toFixed(2)).join(', ')}, median ${median(ratios).toFixed(2)} (target ≥ 0.80)`);
    const logged = readFileSync(serveLog, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"')).length;
    const served = results.serve.reduce((n, m) => n + m.requests, 0);
    console.log(`serve wrote ${fmt(logged)} access-log lines for ${fmt(served)} measured requests (and the warm-up)`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.on('exit', resolve)))));
    collector?.stdin?.end();
    if (people.length > 0) for (let i = 0; i < people.length; i += 1000) await redis.unlink(...people.slice(i, i + 1000).map((l) => `${prefix}${l.token}`));
    redis.disconnect();
    await db.close();
    const admin = knexFactory({ client: 'pg', connection: pgUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.destroy());
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** A course of 10 units × 8 lessons × 5 items, a class of learners who each mastered some of it, their content computed by the real jobs. */
async function seedWorld(db: Awaited<ReturnType<typeof openDatabase>>, redis: Redis) {
  let code = 0;
  const formats = ['assessment', 'collection', 'assessment-external', 'collection-external', 'assessment'];
  const course = await seedCourse(db, { units: Array.from({ length: 10 }, () => Array.from({ length: 8 }, () => formats.map((format) => ({ format, competencies: [`C${code++}`] })))) });
  const members = learners(learnerCount);
  const { id: classId } = await seedClass(db, { courseId: course.id, members });
  // Each learner mastered a different tenth of the codes: contents differ in size and ids.
  await seedCompetencies(db, Object.fromEntries(members.map((m, i) => [m, Object.fromEntries(Array.from({ length: code }, (_, c) => c).filter((c) => c % 10 === i % 10).map((c) => [`C${c}`, 'mastered']))])));
  await enqueue(db, [{ line: null, request: { source: 'assign.course.to.class', classId, courseId: course.id, memberIds: [], repeatedMembers: 0, override: false } }]);
  const bus = new RescopeBus(redis, `${prefix}bus`);
  const settings = { batchSize: 1000, leaseSeconds: 600, maxAttempts: 3, retryDelaySeconds: 30, concurrency: 2 };
  await dispatch(db, bus, { ...settings, batches: 100, maxBusLength: 1_000_000 });
  const processed = await processQueue(db, bus, settings);
  if (processed.processed !== members.length) throw new Error(`processed ${processed.processed} of ${members.length}`);
  return { classId, courseId: course.id };
}

async function sessions(redis: Redis, classId: string): Promise<Learner[]> {
  const db = await openDatabase({ databaseUrl: pgUrl, databaseSchema: schema }, { poolSize: 1 });
  const rows: Array<{ user_id: string }> = await db.knex('class_member').select('user_id').where({ class_id: classId });
  await db.close();
  const people = rows.map((r) => ({ userId: String(r.user_id), token: randomBytes(24).toString('base64') }));
  const pipeline = redis.pipeline();
  for (const l of people) pipeline.set(`${prefix}${l.token}`, JSON.stringify({ user_id: l.userId, access_token_validity: 3600, username: 'bench', tenant: { tenant_id: 'bench' } }), 'EX', 3600);
  await pipeline.exec();
  return people;
}

/** autocannon for `secs` at `connections`, each request a random learner's own content; every answer must be 200. */
async function load(target: { port: number; pid: number }, people: Learner[], path: (l: Learner) => string, secs: number): Promise<Measure> {
  const { port } = target;
  const cpuBefore = cpuMsOf(target.pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: secs,
    ...(process.env.BENCH_RATE ? { overallRate: Number(process.env.BENCH_RATE) } : {}),
    requests: [
      {
        method: 'GET',
        setupRequest: (req: Record<string, unknown>) => {
          const l = people[Math.floor(Math.random() * people.length)]!;
          return { ...req, path: path(l), headers: { authorization: `Token ${l.token}` } };
        },
      },
    ],
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  const cpuMs = (cpuMsOf(target.pid) - cpuBefore) / result.requests.total;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, cpuMs };
}

/** User and system CPU of a process so far, in ms (Linux /proc, 10 ms clock ticks). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nothing answered on port ${port} within 20 s`);
}

await main();
