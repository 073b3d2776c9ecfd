/**
 * The queue table module: the only code that reads or writes `rescope_queue`.
 *
 * Row states: NULL (queued) → 'dispatched' → 'processing' → deleted (done), and
 * 'failed' for rows that used up their attempts, kept with their last error.
 */
import type { Database } from '../db/database.js';
import { toDate, toNumber } from '../db/values.js';

export const queueTable = 'rescope_queue';

export const QueueStatus = Object.freeze({
  dispatched: 'dispatched',
  processing: 'processing',
  failed: 'failed',
});

export interface QueueCounts {
  queued: number;
  dispatched: number;
  processing: number;
  failed: number;
  /** Seconds since the oldest queued row was created, by the database's clock; null when none is queued. */
  oldestQueuedAgeSeconds: number | null;
}

/** Rows by state, in one grouped query. */
export async function queueCounts(db: Database): Promise<QueueCounts> {
  const { knex, dialect } = db;
  const rows: Array<{ status: string | null; n: unknown; oldest: unknown; now: unknown }> = await knex(queueTable)
    .select('status')
    .count({ n: '*' })
    .min({ oldest: 'created_at' })
    .select(knex.raw(`${dialect.nowSql} AS ??`, ['now']))
    .groupBy('status');
  const counts: QueueCounts = { queued: 0, dispatched: 0, processing: 0, failed: 0, oldestQueuedAgeSeconds: null };
  for (const row of rows) {
    const n = toNumber(row.n);
    if (row.status === null) {
      counts.queued = n;
      const oldest = toDate(row.oldest);
      const now = toDate(row.now);
      if (oldest && now) counts.oldestQueuedAgeSeconds = Math.max(0, Math.round((now.getTime() - oldest.getTime()) / 1000));
    } else if (row.status in counts) {
      counts[row.status as 'dispatched' | 'processing' | 'failed'] = n;
    }
  }
  return counts;
}
