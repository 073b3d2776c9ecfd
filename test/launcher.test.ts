/**
 * bin/mtc-batch starts Node from the start-up snapshot `npm run build` made, and falls back
 * to the plain bundle whenever the snapshot may not fit: Node flags or library debugging
 * asked for, turned off, made elsewhere or by another node binary, or changed since. Either way the same
 * program runs. (Every other test that spawns the executable runs it from the snapshot.)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { binPath } from './helpers/cli.js';

const root = join(dirname(binPath), '..');

/**
 * Runs `migrate --verbose --json` on a new SQLite file: its debug log says whether Node
 * started from the snapshot, and the command really runs (the driver, required from where
 * the program is, opens the file).
 */
function probe(t: { teardown(fn: () => void): void }, launcher: string, env: Record<string, string> = {}, viaNode = false) {
  const db = join(tempDir(t), 'db.sqlite');
  const args = ['migrate', '--verbose', '--json'];
  const r = spawnSync(viaNode ? process.execPath : launcher, viaNode ? [launcher, ...args] : args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${db}`, MTC_BATCH_LOG_FORMAT: 'json', ...env },
  });
  const from = /started from the start-up snapshot/.test(r.stderr) ? 'snapshot' : /started from the bundle/.test(r.stderr) ? 'bundle' : null;
  return { status: r.status, stderr: r.stderr, from, applied: r.status === 0 ? (JSON.parse(r.stdout) as { applied: unknown[] }).applied.length : null };
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('run as a program, the launcher starts from the snapshot, and the command does its work', (t) => {
  const r = probe(t, binPath);
  t.is(r.status, 0, r.stderr);
  t.is(r.from, 'snapshot', r.stderr);
  t.true(r.applied! > 0);
});

test("a run from the snapshot takes pg's default user from its own environment, as a run from the bundle does", (t) => {
  // A URL without a user: pg connects as USER, which the snapshot read at build time.
  for (const viaNode of [false, true]) {
    const r = spawnSync(viaNode ? process.execPath : binPath, viaNode ? [binPath, 'migrate'] : ['migrate'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', USER: 'mtc_batch_no_such_role', DATABASE_URL: 'postgres://127.0.0.1:5432/test', MTC_BATCH_DATABASE_SCHEMA: 'mtc_launcher' },
    });
    t.is(r.status, 1, r.stderr);
    t.regex(r.stderr, /role \\?"mtc_batch_no_such_role\\?" does not exist/, viaNode ? 'bundle' : 'snapshot');
  }
});

test('through a link on the PATH (as in the image), the launcher still finds the snapshot and the program', (t) => {
  const dir = tempDir(t);
  const link = join(dir, 'mtc-batch');
  symlinkSync(binPath, link);
  const r = probe(t, link);
  t.is(r.status, 0, r.stderr);
  t.is(r.from, 'snapshot');
});

const fallbacks: Array<[string, Record<string, string>]> = [
  ['NODE_OPTIONS (V8 flags would not match the snapshot)', { NODE_OPTIONS: '--max-old-space-size=512' }],
  ['DEBUG (knex and ioredis read it when they load)', { DEBUG: 'ioredis:*' }],
  ['NODE_DEBUG', { NODE_DEBUG: 'net' }],
  ['NODE_PG_FORCE_NATIVE (pg reads it when it loads)', { NODE_PG_FORCE_NATIVE: '1' }],
  ['MTC_BATCH_NO_SNAPSHOT=1', { MTC_BATCH_NO_SNAPSHOT: '1' }],
  ['MTC_BATCH_NO_SNAPSHOT set but empty', { MTC_BATCH_NO_SNAPSHOT: '' }],
];
for (const [why, env] of fallbacks) {
  test(`with ${why} the launcher loads the plain bundle, and the command runs`, (t) => {
    const r = probe(t, binPath, env);
    t.is(r.status, 0, r.stderr);
    t.is(r.from, 'bundle');
  });
}

test("the launcher asks glibc's malloc for transparent huge pages, unless GLIBC_TUNABLES is set already", (t) => {
  // A stand-in node first on the PATH (the snapshot was not made by it, so the launcher
  // execs it in the fallback) prints the environment it was given.
  const dir = tempDir(t);
  writeFileSync(join(dir, 'node'), '#!/bin/sh\nprintf "%s" "${GLIBC_TUNABLES-unset}"\n', { mode: 0o755 });
  const seen = (env: Record<string, string>) =>
    spawnSync(binPath, ['--version'], { encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH ?? ''}`, ...env } }).stdout;
  t.is(seen({}), 'glibc.malloc.hugetlb=1');
  t.is(seen({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), 'glibc.malloc.arena_max=2');
  t.is(seen({ GLIBC_TUNABLES: '' }), '', 'set but empty: left as it is');
});

test('node bin/mtc-batch runs the plain bundle', (t) => {
  const r = probe(t, binPath, {}, true);
  t.is(r.status, 0, r.stderr);
  t.is(r.from, 'bundle');
});

test('a snapshot removed, cut short or changed since it was made is not used: the command runs from the bundle', (t) => {
  // On a copy made by the image's step, so the real one stays as it is.
  const dir = copyOfProgram(t);
  const blob = join(dir, 'dist', 'snapshot', 'mtc-batch.blob');
  const launcher = join(dir, 'bin', 'mtc-batch');
  t.is(probe(t, launcher).from, 'snapshot');
  const whole = readFileSync(blob);
  const damage: Array<[string, () => void]> = [
    ['removed', () => rmSync(blob)],
    ['empty', () => writeFileSync(blob, '')],
    ['cut short', () => writeFileSync(blob, whole.subarray(0, 1_000_000))],
    // Same size, bytes changed: its modification time moves on.
    ['changed', () => {
      const copy = Buffer.from(whole);
      copy.write('garbage', 5_000_000);
      writeFileSync(blob, copy);
      utimesSync(blob, new Date(), new Date(Date.now() + 5_000));
    }],
  ];
  for (const [what, harm] of damage) {
    harm();
    const r = probe(t, launcher);
    t.is(r.status, 0, `${what}: ${r.stderr}`);
    t.is(r.from, 'bundle', what);
  }
});

test('the snapshot has no switch an environment can flip: the build check is not reachable from a run', (t) => {
  const db = join(tempDir(t), 'db.sqlite');
  const r = spawnSync(binPath, ['migrate', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${db}`, MTC_BATCH_SNAPSHOT_SELF_CHECK: '1' } });
  t.is(r.status, 0, r.stderr);
  t.true((JSON.parse(r.stdout) as { applied: unknown[] }).applied.length > 0);
});

test('a snapshot made for another directory is not used: the program runs from the plain bundle', (t) => {
  // A copy of the launcher beside the same dist/ (as after moving a build elsewhere): the
  // snapshot's key names the directory it was made in.
  const dir = tempDir(t);
  mkdirSync(join(dir, 'bin'));
  copyFileSync(binPath, join(dir, 'bin', 'mtc-batch'));
  symlinkSync(join(root, 'dist'), join(dir, 'dist'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  const r = probe(t, join(dir, 'bin', 'mtc-batch'));
  t.is(r.status, 0, r.stderr);
  t.is(r.from, 'bundle');
});

test('a launcher copied out of the package says to link it, in one JSON object with --json', (t) => {
  const dir = tempDir(t);
  copyFileSync(binPath, join(dir, 'mtc-batch'));
  const r = spawnSync(join(dir, 'mtc-batch'), ['status', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  t.is(r.status, 1);
  t.regex(r.stderr, /link bin\/mtc-batch instead/);
  t.is((JSON.parse(r.stdout) as { error: { exitCode: number } }).error.exitCode, 1);
});

/** The runtime stage's layout: the program's parts copied to another directory, and its snapshot made there. */
function copyOfProgram(t: { teardown(fn: () => void): void }): string {
  const dir = tempDir(t);
  for (const part of ['bin', 'dist/snapshot']) mkdirSync(join(dir, part), { recursive: true });
  copyFileSync(binPath, join(dir, 'bin', 'mtc-batch'));
  copyFileSync(join(root, 'dist', 'snapshot', 'entry.cjs'), join(dir, 'dist', 'snapshot', 'entry.cjs'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  for (const part of ['node_modules', 'dist/bundle', 'sql']) symlinkSync(join(root, part), join(dir, part));
  const made = spawnSync(process.execPath, [join(root, 'build', 'snapshot.mjs'), dir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  if (made.status !== 0) throw new Error(`build/snapshot.mjs failed: ${made.stderr}`);
  return dir;
}

test('build/snapshot.mjs <dir> (the image step) makes a snapshot for a copy of the program, which its launcher then uses', (t) => {
  const dir = copyOfProgram(t);
  const r = probe(t, join(dir, 'bin', 'mtc-batch'));
  t.is(r.status, 0, r.stderr);
  t.is(r.from, 'snapshot');
  t.regex(r.stderr, new RegExp(`"snapshot":"${join(realpathSync(dir), 'dist', 'snapshot', 'mtc-batch.blob')}"`));
});
