// The start-up snapshot: dist/snapshot/mtc-batch.blob, made from dist/snapshot/entry.cjs
// (bundled by build/bundle.mjs from src/cli/snapshot-main.ts) with the Node.js that will
// run it. bin/mtc-batch starts from it only when dist/snapshot/key names this directory
// and the same node binary; otherwise it loads the plain bundle (slower, same behaviour).
//
//   node build/snapshot.mjs [package directory]    (run by `npm run build`; the image
//                                                   runs it again with its own node)
//
// Needs nothing but Node.js. Fails, removing the blob and its key, when the snapshot
// cannot be made or a run from it does not behave (random ids, environment, arguments).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What bin/mtc-batch compares before using the blob: the package's real directory, and
 * the size and modification time (s) of the node binary and of the blob itself (a blob
 * removed, cut short or changed since would crash Node). It computes the same with
 * `readlink -f` and one `stat -L --printf '%s.%Y '` for both files (GNU coreutils; where
 * stat lacks --printf the launcher falls back to the plain bundle).
 */
export function snapshotKey(root, nodeBinary, blob) {
  const sizeAndTime = (file) => {
    const s = statSync(file);
    return `${s.size}.${Math.floor(s.mtimeMs / 1000)}`;
  };
  return `${realpathSync(root)} ${sizeAndTime(nodeBinary)} ${sizeAndTime(blob)}`;
}

export function makeSnapshot(rootDir) {
  const root = realpathSync(rootDir);
  const dir = join(root, 'dist', 'snapshot');
  const blob = join(dir, 'mtc-batch.blob');
  const keyFile = join(dir, 'key');
  rmSync(blob, { force: true });
  rmSync(keyFile, { force: true });
  const env = { ...process.env };
  // The build's own debugging and flags must not end up in every run's heap.
  for (const name of ['DEBUG', 'NODE_DEBUG', 'NODE_OPTIONS', 'NODE_PG_FORCE_NATIVE', 'MTC_BATCH_SNAPSHOT_SELF_CHECK']) delete env[name];
  // The snapshot's self-check answers to this value only (see src/cli/snapshot-main.ts).
  const nonce = randomBytes(16).toString('hex');
  const built = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', join(dir, 'entry.cjs')], {
    cwd: dir,
    env: { ...env, MTC_BATCH_SNAPSHOT_NONCE: nonce },
    encoding: 'utf8',
  });
  if (built.status !== 0) {
    // Node warns that some of its modules are "not yet fully verified" in snapshots (the
    // runs below check what the toolkit needs of them): only the rest says what failed.
    const failure = built.stderr.split('\n').filter((l) => !/not yet fully verified|may still work|To request support|--trace-warnings/.test(l));
    throw new Error(`node --build-snapshot failed (exit ${built.status}):\n${failure.join('\n')}`);
  }

  // Two runs from the blob: each must draw its own random ids, and see its own
  // environment and arguments, not the build's.
  const launcher = join(root, 'bin', 'mtc-batch');
  const runs = ['alice', 'bob'].map((user) => {
    const run = spawnSync(process.execPath, ['--snapshot-blob', blob, launcher], {
      env: { ...env, USER: user, MTC_BATCH_SNAPSHOT_SELF_CHECK: nonce },
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`a run from the snapshot failed (exit ${run.status}): ${run.stderr}`);
    return { user, seen: JSON.parse(run.stdout) };
  });
  for (const { user, seen } of runs) {
    if (seen.user !== user) throw new Error(`a run from the snapshot saw USER=${seen.user}, not its own ${user}`);
    if (seen.launcher !== launcher) throw new Error(`a run from the snapshot saw ${seen.launcher} as its launcher, not ${launcher}`);
  }
  const [a, b] = runs.map((r) => r.seen);
  if (a.id === b.id || a.random === b.random) throw new Error('two runs from the snapshot drew the same random values');
  writeFileSync(keyFile, `${snapshotKey(root, process.execPath, blob)}\n`);
  return { blob, key: keyFile };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(fileURLToPath(new URL('.', import.meta.url)), '..');
  try {
    makeSnapshot(root);
  } catch (err) {
    process.stderr.write(`build/snapshot.mjs: ${err.message}\n`);
    process.exitCode = 1;
  }
}
