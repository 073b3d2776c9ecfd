/**
 * The queue table module (this file and queue-table-*.ts): the only code that reads or
 * writes `rescope_queue`. Callers import from this file.
 *
 * Row states: NULL (queued) → 'dispatched' → 'processing' → deleted (done), and
 * 'failed' for rows that used up their attempts, kept with their last error. Every
 * transition is a compare-and-set on the status (`... AND status = 'dispatched'`), so a
 * row is worked on by one worker even when many dispatch and process runs overlap.
 */
import type { Database } from '../db/database.js';
import { toDate, toNumber, toUuid } from '../db/values.js';
import { queueTable } from './queue-table-shared.js';

// The module's other parts; callers import everything from here.
export { queueTable } from './queue-table-shared.js';
export * from './queue-table-enqueue.js';
export * from './queue-table-moves.js';

export interface QueueCounts {
  queued: number;
  dispatched: number;
  processing: number;
  failed: number;
  /**
   * How long the oldest queued row that is due has waited since it became due (its
   * `available_at`), by the database's clock; null when no queued row is due. Rows in
   * retry back-off are not due yet, and a re-queued row becomes due when it is re-queued:
   * neither says that dispatch and process are behind.
   */
  oldestQueuedAgeSeconds: number | null;
}

/** Rows by state, in one grouped query. */
export async function queueCounts(db: Database): Promise<QueueCounts> {
  const { knex, dialect } = db;
  const rows: Array<{ status: string | null; n: unknown; oldest: unknown; now: unknown }> = await knex(queueTable)
    .select('status')
    .count({ n: '*' })
    .select(knex.raw(`MIN(CASE WHEN ?? <= ${dialect.nowSql} THEN ?? END) AS ??`, ['available_at', 'available_at', 'oldest']))
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
    } else if (row.status === 'dispatched' || row.status === 'processing' || row.status === 'failed') {
      counts[row.status] = n;
    }
  }
  return counts;
}

export interface FailedRow {
  id: number;
  userId: string;
  courseId: string;
  classId: string | null;
  attempts: number;
  lastError: string | null;
  failedAt: Date | null;
}

/** The failed rows that have waited longest for an operator, with their errors. */
export async function oldestFailed(db: Database, limit: number): Promise<FailedRow[]> {
  const rows: Array<Record<string, unknown>> = await db.knex(queueTable)
    .select('id', 'user_id', 'course_id', 'class_id', 'attempts', 'last_error', 'updated_at')
    .where('status', 'failed')
    .orderBy('updated_at')
    .limit(limit);
  return rows.map((r) => ({
    id: toNumber(r.id),
    userId: toUuid(r.user_id),
    courseId: toUuid(r.course_id),
    classId: r.class_id === null ? null : toUuid(r.class_id),
    attempts: toNumber(r.attempts),
    lastError: r.last_error === null ? null : String(r.last_error),
    failedAt: toDate(r.updated_at),
  }));
}

/** Rows dispatched or processing for longer than the lease: what the next dispatch will recover. */
export async function countPastLease(db: Database, leaseSeconds: number): Promise<number> {
  const { knex, dialect } = db;
  const [row] = await knex(queueTable)
    .whereIn('status', ['dispatched', 'processing'])
    .where('updated_at', '<', knex.raw(dialect.nowPlusSecondsSql, [-leaseSeconds]))
    .count({ n: '*' });
  return toNumber(row?.n ?? 0);
}
