/**
 * The entry point of the start-up snapshot (dist/snapshot/, made by `npm run build`).
 *
 * A one-shot command spends most of its start-up loading and initialising modules:
 * commander, knex, pg, ioredis and the toolkit's own code, ~100 ms on every cron tick. A
 * V8 start-up snapshot (`node --build-snapshot`) runs that once, at build time, and stores
 * the resulting heap; `bin/mtc-batch` then starts Node from the stored heap, and only the
 * command itself runs. The modules every one-shot command uses are loaded here; `serve`
 * (long-running) and `demo` load theirs when they run, as in the plain bundle.
 *
 * What a snapshot keeps is what the modules computed at build time, so nothing that
 * depends on the run may be computed while loading. The toolkit reads its settings,
 * streams and clock when a command runs. Of the libraries, only these read the
 * environment while loading, and each is handled:
 *   - pg's default user (`USER`): set again from the run's environment below;
 *   - colorette (knex's coloured warnings: `TERM`, `NO_COLOR`): the build runs without a
 *     terminal, so knex's own warnings are never coloured (the toolkit logs them itself);
 *   - the `debug` package (knex, ioredis: `DEBUG`, `DEBUG_*`), semver (`NODE_DEBUG`) and
 *     pg's choice of its native driver (`NODE_PG_FORCE_NATIVE`): the launcher does not use
 *     the snapshot when one of these is set, so each behaves as its library documents;
 *   - V8 and Node flags (`NODE_OPTIONS`) must match the build: the launcher does not use
 *     the snapshot when NODE_OPTIONS is set.
 * `npm run build` checks the result: two runs from the snapshot must get different random
 * ids and the run's own environment (see build/snapshot.mjs).
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { startupSnapshot } from 'node:v8';
import pg from 'pg';
import { main } from './bin-main.js';
// Every one-shot command's modules (the commands import them when they run).
import '../db/database.js';
import '../db/migrate.js';
import '../redis/redis.js';
import '../log/progress.js';
import '../input/json-lines.js';
import '../rescope/bus.js';
import '../rescope/dispatch.js';
import '../rescope/enqueue.js';
import '../rescope/enqueue-request.js';
import '../rescope/process-queue.js';
import '../rescope/queue-table.js';
import '../rescope/show.js';
import '../rescope/sessions.js';
import '../rescope/wait.js';
import '../rescope/explain-learner.js';
import '../notifications/overdue-sync.js';
import '../notifications/check-invalid.js';
import '../notifications/check-invalid-message.js';
import '../status/status.js';

declare global {
  // The bundle's stand-in for import.meta.url and for require() of the modules left out
  // of it (native drivers, cli-progress): both must point where the program runs.
  // eslint-disable-next-line no-var
  var __mtcModuleUrl: string;
  // eslint-disable-next-line no-var
  var __mtcRequire: NodeJS.Require;
}

// The build's check of the snapshot (build/snapshot.mjs) answers only to the random value
// that build passed to the snapshot's own making: no operator's environment can reach it.
const selfCheckNonce = process.env.MTC_BATCH_SNAPSHOT_NONCE ?? '';

if (!startupSnapshot.isBuildingSnapshot()) {
  throw new Error('dist/snapshot/entry.cjs is the start-up snapshot entry point: run bin/mtc-batch');
}

startupSnapshot.setDeserializeMainFunction(() => {
  // The launcher passes its own path first, where a script's path would be:
  // node --snapshot-blob <blob> <path of bin/mtc-batch> <arguments>
  const launcher = process.argv[1]!;
  const root = join(dirname(realpathSync(launcher)), '..');
  globalThis.__mtcModuleUrl = pathToFileURL(join(root, 'dist', 'snapshot', 'entry.cjs')).href;
  globalThis.__mtcRequire = createRequire(join(root, 'package.json'));
  // Read by pg when it loaded (at build time): the default user of a URL that names none.
  pg.defaults.user = process.env.USER;
  if (selfCheckNonce !== '' && process.env.MTC_BATCH_SNAPSHOT_SELF_CHECK === selfCheckNonce) {
    // For the build's check: what a run from the snapshot sees.
    process.stdout.write(`${JSON.stringify({ id: randomUUID(), random: Math.random(), user: pg.defaults.user ?? null, launcher, pid: process.pid })}\n`);
    return;
  }
  void main();
});
