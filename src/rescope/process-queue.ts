/**
 * The "worker threads" of the original design: pop ids from the bus in batches, with up
 * to `concurrency` batches in flight, until the bus is empty, `max` rows were taken, or
 * the process is asked to stop. On a stop signal no new batch starts; running batches
 * get `stopGraceMs` to finish, and rows of any that do not are given back to the queue:
 * first their statements are cancelled where the database allows it (PostgreSQL), since a
 * statement stuck behind a lock holds the rows' locks, and the release would wait for it.
 */
import pLimit from 'p-limit';
import { whenAborted } from '../abort.js';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { RescopeBus } from './bus.js';
import { CourseStructureCache } from './course-structure.js';
import { type ProcessCounts, addCounts, processBatch, zeroCounts } from './process-batch.js';
import { parseBusMessage } from './bus.js';
import { releaseDispatched, releaseProcessing } from './queue-table.js';

export type { ProcessCounts } from './process-batch.js';

export interface ProcessOptions {
  batchSize: number;
  concurrency: number;
  /** Stop after taking this many messages from the bus. */
  max?: number;
  /** When the bus is empty, keep looking for this long before stopping (default 0: stop at once). */
  waitMs?: number;
  maxAttempts: number;
  retryDelaySeconds: number;
  signal?: AbortSignal;
  log?: Logger;
  /** Called after each batch with that batch's counts (progress bars, logs). */
  onBatch?: (counts: ProcessCounts) => void;
  /** After a stop signal, how long running batches may take before their rows are released. */
  stopGraceMs?: number;
}

export interface ProcessResult extends ProcessCounts {
  /** Why the run ended. */
  stoppedBy: 'bus-empty' | 'max' | 'signal';
  /** Rows given back to the queue because the run stopped before finishing them. */
  released: number;
}

export async function processQueue(db: Database, bus: RescopeBus, options: ProcessOptions): Promise<ProcessResult> {
  const log = options.log ?? silentLogger;
  const limit = pLimit(options.concurrency);
  let cancelled = false;
  const ctx = { db, cache: new CourseStructureCache(db), log, maxAttempts: options.maxAttempts, retryDelaySeconds: options.retryDelaySeconds, cancelled: () => cancelled };
  const totals = zeroCounts();
  const inFlight = new Map<Promise<void>, Batch>();
  let fatal: unknown;
  let taken = 0;
  let stoppedBy: ProcessResult['stoppedBy'] = 'bus-empty';

  const stopRequested = () => options.signal?.aborted === true || fatal !== undefined;
  const stopped = options.signal ? whenAborted(options.signal) : undefined;
  while (!stopRequested()) {
    if (options.max !== undefined && taken >= options.max) {
      stoppedBy = 'max';
      break;
    }
    if (inFlight.size >= options.concurrency) {
      // Every slot busy: wait for one to free up, or for a stop request (a batch stuck
      // behind a lock may never free its slot; the drain below deals with it).
      await Promise.race([...inFlight.keys(), ...(stopped ? [stopped] : [])]);
      continue;
    }
    const want = Math.min(options.batchSize, options.max === undefined ? Infinity : options.max - taken);
    let messages: string[];
    try {
      messages = await bus.popWaiting(want, options.waitMs ?? 0, options.signal);
    } catch (err) {
      fatal = err;
      break;
    }
    if (messages.length === 0) {
      // An empty answer while waiting may come from the stop signal rather than the bus.
      if (options.signal?.aborted) continue;
      break;
    }
    taken += messages.length;

    const claimed = new Set<number>();
    const batch: Promise<void> = limit(() => processBatch(ctx, messages, claimed))
      .then((counts) => {
        addCounts(totals, counts);
        options.onBatch?.(counts);
      })
      .catch((err: unknown) => {
        // A batch the stop cancelled failed by design: its rows are given back below.
        if (cancelled) return;
        // The first failure ends the run and is what the command reports; later ones are logged.
        if (fatal === undefined) fatal = err;
        else log.error(`another batch of ${messages.length} failed too`, { error: errorMessage(err) });
      })
      .finally(() => inFlight.delete(batch));
    inFlight.set(batch, { claimed, popped: messages.map(parseBusMessage).filter((id): id is number => id !== null) });
  }
  if (options.signal?.aborted) stoppedBy = 'signal';

  const released = await drain(db, inFlight, options.signal, options.stopGraceMs ?? 20_000, log, () => {
    cancelled = true;
  });
  // Rows are only released when a stop signal cut the last batches short.
  if (released > 0) stoppedBy = 'signal';
  if (fatal !== undefined) throw fatal;
  return { ...totals, stoppedBy, released };
}

/** A running batch: the ids it took from the bus, and those it moved to 'processing'. */
interface Batch {
  popped: number[];
  claimed: Set<number>;
}

/**
 * Waits for running batches. Once `signal` aborts (before or during the wait: the last
 * batches of a run are running when the bus is found empty), they get `graceMs` more.
 * Past that their statements are cancelled where the dialect can (`cancel` is called
 * first, so the batches know their failure is the stop's), and their rows go back to the
 * queue: those they claimed, and those they took from the bus and had not claimed yet.
 */
async function drain(db: Database, inFlight: Map<Promise<void>, Batch>, signal: AbortSignal | undefined, graceMs: number, log: Logger, cancel: () => void): Promise<number> {
  if (inFlight.size === 0) return 0;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    const start = () => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    };
    if (signal?.aborted) start();
    else if (signal) {
      onAbort = start;
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  const outcome = await Promise.race([Promise.all(inFlight.keys()).then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (onAbort) signal?.removeEventListener('abort', onAbort);
  if (outcome === 'done') return 0;
  const unfinished = [...inFlight.values()];
  const batches = inFlight.size;
  let cancelledStatements = 0;
  if (db.dialect.cancelRunningStatements) {
    cancel();
    cancelledStatements = db.dialect.cancelRunningStatements(db.knex);
    // A cancelled statement ends at once and its transaction rolls back, letting go of the
    // rows' locks; a batch busy in JavaScript meanwhile is not waited for.
    let settle: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(inFlight.keys()), new Promise((resolve) => (settle = setTimeout(resolve, 2_000)))]);
    clearTimeout(settle);
  }
  const released =
    (await releaseProcessing(db, unfinished.flatMap((b) => [...b.claimed]))) + (await releaseDispatched(db, unfinished.flatMap((b) => b.popped)));
  log.warn(
    `stopped with ${batches} ${batches === 1 ? 'batch' : 'batches'} unfinished ${graceMs} ms after the stop signal` +
      `${cancelledStatements > 0 ? ` (${cancelledStatements} running statements cancelled)` : ''}; ${released} rows returned to the queue`,
  );
  return released;
}
