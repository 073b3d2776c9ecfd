/**
 * The "timer thread" of the original design, made safe to run many at once: recover rows
 * whose lease expired, claim a batch of due rows in one atomic statement, and publish
 * their ids on the bus.
 */
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import { plural } from '../cli/options.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { RescopeBus } from './bus.js';
import { claimQueued, recoverExpired, releaseDispatched } from './queue-table.js';

export interface DispatchOptions {
  batchSize: number;
  leaseSeconds: number;
  maxAttempts: number;
  /** Batches to claim in this run; stops early when the queue has no more due rows. */
  batches?: number;
  /**
   * Stop claiming while the bus already holds this many ids. Ids that wait on the bus
   * longer than the lease are recovered and dispatched again, and claims get slower the
   * more rows are in flight: workers that fall behind should not be buried.
   */
  maxBusLength?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export interface DispatchResult {
  /** Rows whose lease expired, returned to the queue. */
  recovered: number;
  /** Rows whose lease expired while processing and that had used up their attempts. */
  failed: number;
  /** Rows claimed and published on the bus. */
  dispatched: number;
  /** True when the run stopped claiming because the bus was full. */
  busFull: boolean;
}

export async function dispatch(db: Database, bus: RescopeBus, options: DispatchOptions): Promise<DispatchResult> {
  const log = options.log ?? silentLogger;
  const { recovered, failed } = await recoverExpired(db, options);
  if (recovered + failed > 0) {
    // Rows past their lease go back to the queue, or fail when that was their last attempt.
    const ended = failed > 0 ? `; ${plural(failed, 'row')} failed (${failed === 1 ? 'it was its' : 'it was their'} last attempt)` : '';
    log.info(`${plural(recovered, 'row')} whose lease expired went back to the queue${ended}`, { recovered, failed });
  }

  let dispatched = 0;
  let busFull = false;
  const batches = options.batches ?? 1;
  for (let batch = 0; batch < batches && !options.signal?.aborted; batch++) {
    let room = options.batchSize;
    if (options.maxBusLength !== undefined) {
      const waiting = await bus.length();
      if (waiting >= options.maxBusLength) {
        busFull = true;
        log.info(`the bus holds ${waiting} ids (--max-bus ${options.maxBusLength}): leaving the rest queued for the next run`);
        break;
      }
      room = Math.min(room, options.maxBusLength - waiting);
    }
    const ids = await claimQueued(db, room);
    if (ids.length === 0) break;
    try {
      await bus.push(ids);
    } catch (err) {
      // The ids never reached the bus: give the rows back now rather than after the lease.
      const released = await releaseDispatched(db, ids).catch(() => 0);
      log.error(`publishing ${ids.length} ids on ${bus.key} failed; ${released} rows returned to the queue`, { error: errorMessage(err) });
      throw err;
    }
    dispatched += ids.length;
    log.debug(`dispatched ${ids.length} rows`, { batch: batch + 1 });
    if (ids.length < room) break;
  }
  return { recovered, failed, dispatched, busFull };
}
