/**
 * Hostile JSON lines: 20,000 generated lines where good requests and messages sit among
 * every kind of bad one (bytes that are not UTF-8, a 64 MB line, deep nesting, NUL bytes,
 * numbers and objects where ids belong, SQL and Lua injection text in every string field,
 * repeated keys, a byte-order mark, CRLF). Every bad line is reported by number, every
 * good one is handled, the exit code is 6, and the process's memory stays flat.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { learners, seedCourse } from '../src/seed/course-world.js';
import { seedOverdueSchools } from '../src/seed/mtc-world.js';
import { toBool } from '../src/db/values.js';
import { binPath } from './helpers/cli.js';
import test from 'ava';
import { type LiveDialect, dialectsUnderTest } from './helpers/databases.js';
import { notificationFixture } from './helpers/notifications.js';
import { queueRows, rescopeFixture } from './helpers/rescope.js';

const sqlInjection = "x'); DROP TABLE rescope_queue; --";
const luaInjection = "x\"]) redis.call('FLUSHALL') --[[";

/** One bad line of each kind, in turn; `good` is how a good line of this input looks. */
function badLine(i: number): Buffer {
  const kinds: Array<() => Buffer | string> = [
    () => Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), // {"a":"\xc3("}
    () => `${'['.repeat(200)}${']'.repeat(200)}`,
    () => Buffer.from('{"source":"oob","courseId":"a\u0000b"}'),
    () => '{"source":"oob","courseId":"\\u0000","memberIds":["\\u0000"]}',
    () => JSON.stringify({ source: 'oob', courseId: 12345, memberIds: [{ id: randomUUID() }] }),
    () => JSON.stringify({ source: 'oob', courseId: randomUUID(), memberIds: [42] }),
    () => JSON.stringify({ version: 1, checkCode: { $ne: null }, notificationType: 'checkInvalid' }),
    () => JSON.stringify({ source: sqlInjection, classId: sqlInjection, courseId: sqlInjection, memberIds: [sqlInjection] }),
    () => JSON.stringify({ version: 1, checkCode: luaInjection, notificationType: luaInjection }),
    () => JSON.stringify({ version: 1, checkCode: sqlInjection, notificationType: 'checkInvalid' }),
    () => '{"source":"oob","source":"rescope","courseId":"00000000-0000-4000-8000-000000000000","memberIds":[]}',
    () => '{"version":1,"checkCode":"00000000-0000-4000-8000-000000000000","checkCode":"11111111-1111-4111-8111-111111111111","notificationType":"checkInvalid"}',
    () => 'not json at all',
    () => '{"unterminated":',
    () => 'null',
  ];
  const made = kinds[i % kinds.length]!();
  return typeof made === 'string' ? Buffer.from(made) : made;
}

interface Generated {
  input: Buffer;
  good: number[];
  bad: number[];
}

/** 20,000 lines: a BOM first, CRLF line ends, one 20 MB line, every 5th line good. */
function generate(goodLine: (n: number) => string): Generated {
  const parts: Buffer[] = [Buffer.from([0xef, 0xbb, 0xbf])];
  const good: number[] = [];
  const bad: number[] = [];
  let goods = 0;
  for (let line = 1; line <= 20_000; line++) {
    let text: Buffer;
    if (line === 10_000) {
      text = Buffer.from(`{"source":"oob","memberIds":["${'a'.repeat(64 * 1024 * 1024)}"]}`);
      bad.push(line);
    } else if (line % 5 === 1) {
      text = Buffer.from(goodLine(goods++));
      good.push(line);
    } else {
      text = badLine(line);
      bad.push(line);
    }
    parts.push(text, Buffer.from('\r\n'));
  }
  return { input: Buffer.concat(parts), good, bad };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the process, in MiB (VmHWM). */
  peakMiB: number;
}

/** Runs the CLI feeding `input` on stdin, sampling its peak memory while it runs. */
function runWithMemory(args: string[], env: Record<string, string>, input: Buffer): Promise<Run> {
  const child = spawn(binPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peakKiB = 0;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const sample = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
    } catch {
      // exited between samples
    }
  }, 20);
  child.stdin.end(input);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, stdout, stderr, peakMiB: Math.round(peakKiB / 1024) });
    });
  });
}

/**
 * Serial: generating 20,000 lines (one of them 64 MB) is synchronous work that would stall
 * this worker's event loop while another test of the file connects, timing it out.
 */
function eachDialect(title: string, fn: (t: ExecutionContext, dialect: LiveDialect) => Promise<void>): void {
  for (const dialect of dialectsUnderTest()) test.serial(`${title} [${dialect}]`, (t) => fn(t, dialect));
}

function checkRun(t: ExecutionContext, run: Run, generated: Generated): Array<{ line: number; error: string }> {
  t.is(run.code, 6, run.stderr.slice(-2000));
  const out = JSON.parse(run.stdout) as { rejected: Array<{ line: number; error: string }> };
  t.deepEqual(out.rejected.map((r) => r.line), generated.bad, 'every bad line reported by its number, and only those');
  const long = out.rejected.find((r) => r.line === 10_000);
  t.regex(long?.error ?? '', /longer than 2,000,000 bytes/);
  // The 20 MB line was never held: the process stays far below what holding it (and
  // decoding and parsing it) would take.
  t.log(`peak memory ${run.peakMiB} MiB`);
  t.true(run.peakMiB > 0 && run.peakMiB < 160, `peak memory ${run.peakMiB} MiB`);
  t.false(/\n\s+at /.test(run.stderr), 'no stack trace');
  return out.rejected;
}

eachDialect('enqueue --jsonl: 20,000 hostile lines, every bad one reported, every good one queued, memory flat', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = await seedCourse(f.db, { units: [[[{ competencies: ['a'] }]]], version: '1' });
  const members = learners(4_000);
  const generated = generate((n) => JSON.stringify({ source: 'oob', courseId: course.id, memberIds: [members[n]] }));
  const run = await runWithMemory(['enqueue', '--jsonl', '-', '--json'], f.env, generated.input);
  checkRun(t, run, generated);
  t.like(JSON.parse(run.stdout), { queued: generated.good.length });
  const rows = await queueRows(f.db);
  t.is(rows.length, generated.good.length);
  t.deepEqual(new Set(rows.map((r) => r.userId)), new Set(members.slice(0, generated.good.length)));
});

eachDialect('notify-invalid --jsonl: 20,000 hostile lines, every bad one reported, every good check marked, memory flat', async (t, dialect) => {
  const f = await notificationFixture(t, dialect);
  await seedOverdueSchools(f.db, 400, 10);
  const codes = (await f.db.knex('check').select('checkCode')).map((r: { checkCode: string }) => String(r.checkCode).toLowerCase());
  t.is(codes.length, 4_000);
  const generated = generate((n) => JSON.stringify({ version: 1, checkCode: codes[n], notificationType: 'checkInvalid' }));
  const before = await f.redis.keys();
  const run = await runWithMemory(['notify-invalid', '--jsonl', '-', '--json'], f.env, generated.input);
  checkRun(t, run, generated);
  t.like(JSON.parse(run.stdout), { handled: generated.good.length });
  const marked = await f.db.knex('check').select('processingFailed');
  t.is(marked.filter((r: { processingFailed: unknown }) => toBool(r.processingFailed)).length, generated.good.length);
  // Injection text reached neither the database nor Redis as anything but data.
  t.true(await f.db.knex.schema.hasTable('rescope_queue'));
  t.true((await f.redis.keys()).length > before.length);
});
