/**
 * bin/mtc-batch starts Node from the start-up snapshot `npm run build` made, and falls back
 * to the plain bundle whenever the snapshot may not fit: Node flags or library debugging
 * asked for, turned off, made elsewhere or by another node binary. Either way the same
 * program runs. (Every other test that spawns the executable runs it from the snapshot.)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { binPath } from './helpers/cli.js';

const root = join(dirname(binPath), '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

interface SelfCheck {
  id: string;
  random: number;
  user: string | null;
  launcher: string;
}

/**
 * Runs `--version` with the snapshot's self-check asked for: a run from the snapshot
 * prints what it sees instead (JSON); the plain bundle ignores the variable and prints the
 * version.
 */
function probe(launcher: string, env: Record<string, string> = {}, viaNode = false) {
  const r = spawnSync(viaNode ? process.execPath : launcher, viaNode ? [launcher, '--version'] : ['--version'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', USER: 'launcher-test', MTC_BATCH_SNAPSHOT_SELF_CHECK: '1', ...env },
  });
  const out = r.stdout.trim();
  return { status: r.status, stderr: r.stderr, snapshot: out.startsWith('{') ? (JSON.parse(out) as SelfCheck) : null, out };
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('run as a program, the launcher starts from the snapshot, which sees its own environment and draws its own random ids', (t) => {
  const a = probe(binPath);
  const b = probe(binPath, { USER: 'someone-else' });
  t.is(a.status, 0, a.stderr);
  t.truthy(a.snapshot, `not started from the snapshot: ${a.out} ${a.stderr}`);
  t.is(a.snapshot!.user, 'launcher-test');
  t.is(b.snapshot!.user, 'someone-else');
  t.is(a.snapshot!.launcher, realpathSync(binPath));
  t.not(a.snapshot!.id, b.snapshot!.id);
  t.not(a.snapshot!.random, b.snapshot!.random);
});

test('through a link on the PATH (as in the image), the launcher still finds the snapshot and the program', (t) => {
  const dir = tempDir(t);
  const link = join(dir, 'mtc-batch');
  symlinkSync(binPath, link);
  const r = probe(link);
  t.truthy(r.snapshot, `${r.out} ${r.stderr}`);
  t.is(r.snapshot!.launcher, realpathSync(binPath));
  const plain = spawnSync(link, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  t.is(plain.stdout.trim(), version, plain.stderr);
});

const fallbacks: Array<[string, Record<string, string>]> = [
  ['NODE_OPTIONS (V8 flags would not match the snapshot)', { NODE_OPTIONS: '--max-old-space-size=512' }],
  ['DEBUG (knex and ioredis read it when they load)', { DEBUG: 'ioredis:*' }],
  ['NODE_DEBUG', { NODE_DEBUG: 'net' }],
  ['MTC_BATCH_NO_SNAPSHOT=1', { MTC_BATCH_NO_SNAPSHOT: '1' }],
];
for (const [why, env] of fallbacks) {
  test(`with ${why} the launcher loads the plain bundle, and the command runs`, (t) => {
    const r = probe(binPath, env);
    t.is(r.status, 0, r.stderr);
    t.is(r.snapshot, null);
    t.is(r.out, version);
  });
}

test('node bin/mtc-batch runs the plain bundle', (t) => {
  const r = probe(binPath, {}, true);
  t.is(r.status, 0, r.stderr);
  t.is(r.snapshot, null);
  t.is(r.out, version);
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
  const r = probe(join(dir, 'bin', 'mtc-batch'));
  t.is(r.status, 0, r.stderr);
  t.is(r.snapshot, null);
  t.is(r.out, version);
});

test('build/snapshot.mjs <dir> (the image step) makes a snapshot for a copy of the program, which its launcher then uses', (t) => {
  // The runtime stage's layout: the program's parts copied to another directory.
  const dir = tempDir(t);
  for (const part of ['bin', 'dist/snapshot']) mkdirSync(join(dir, part), { recursive: true });
  copyFileSync(binPath, join(dir, 'bin', 'mtc-batch'));
  copyFileSync(join(root, 'dist', 'snapshot', 'entry.cjs'), join(dir, 'dist', 'snapshot', 'entry.cjs'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  for (const part of ['node_modules', 'dist/bundle', 'sql']) symlinkSync(join(root, part), join(dir, part));
  const made = spawnSync(process.execPath, [join(root, 'build', 'snapshot.mjs'), dir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  t.is(made.status, 0, made.stderr);
  const r = probe(join(dir, 'bin', 'mtc-batch'));
  t.truthy(r.snapshot, `${r.out} ${r.stderr}`);
  t.is(r.snapshot!.launcher, join(realpathSync(dir), 'bin', 'mtc-batch'));
  // And the program runs there, its driver required from there: a SQLite command.
  const migrated = spawnSync(join(dir, 'bin', 'mtc-batch'), ['migrate', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` } });
  t.is(migrated.status, 0, migrated.stderr);
});
