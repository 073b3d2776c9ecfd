/**
 * The queue table, for someone watching learners go through the queue (`enqueue --wait`):
 * where each learner's row stands, and whether anything moved through the queue lately.
 * Reads only.
 */
import type { Database } from '../db/database.js';
import { execute } from '../db/execute.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toDate, toNumber, toUuid } from '../db/values.js';
import { type Learner, learnerKey } from './content-table.js';
import { queueTable } from './queue-table-shared.js';

export type QueueState = 'queued' | 'dispatched' | 'processing' | 'failed';

export interface LearnerRow {
  state: QueueState;
  /** When a queued row is due (a row in retry back-off is due later). */
  availableAt: Date | null;
  attempts: number;
  lastError: string | null;
}

/** The queue rows of `learners`, by learnerKey; a learner without a row is absent. */
export async function learnerRows(db: Database, learners: readonly Learner[]): Promise<Map<string, LearnerRow>> {
  const { knex, dialect } = db;
  const groups = new Map<string, { courseId: string; classId: string | null; userIds: string[] }>();
  for (const l of learners) {
    const key = `${l.courseId}|${l.classId ?? ''}`;
    const group = groups.get(key) ?? { courseId: l.courseId, classId: l.classId, userIds: [] };
    group.userIds.push(l.userId);
    groups.set(key, group);
  }
  const found = new Map<string, LearnerRow>();
  for (const { courseId, classId, userIds } of groups.values()) {
    for (const chunk of listChunks(dialect, userIds)) {
      const q = knex(queueTable).select('user_id', 'status', 'available_at', 'attempts', 'last_error').where('course_id', courseId);
      if (classId === null) q.whereNull('class_id');
      else q.where('class_id', classId);
      const rows: Array<Record<string, unknown>> = await whereInList(q, dialect, 'user_id', chunk, 'uuid');
      for (const r of rows) {
        found.set(learnerKey({ userId: toUuid(r.user_id), courseId, classId }), {
          state: r.status === null ? 'queued' : (String(r.status) as QueueState),
          availableAt: toDate(r.available_at),
          attempts: toNumber(r.attempts),
          lastError: r.last_error === null ? null : String(r.last_error),
        });
      }
    }
  }
  return found;
}

/** The database's clock, so times compare with the rows' (which the database stamps). */
export async function queueClock(db: Database): Promise<Date> {
  const { rows } = await execute<{ now: unknown }>(db.knex, db.dialect, { sql: `SELECT ${db.dialect.nowSql} AS ${db.knex.ref('now').toQuery()}`, bindings: [] });
  const now = toDate(rows[0]?.now);
  if (!now) throw new Error('the database returned no time');
  return now;
}

/** Rows anywhere in the queue that dispatch claimed, or process took up, since `since`. */
export async function queueActivitySince(db: Database, since: Date): Promise<{ dispatched: number; processing: number }> {
  const rows: Array<{ status: unknown; n: unknown }> = await db.knex(queueTable)
    .select('status')
    .count({ n: '*' })
    .whereIn('status', ['dispatched', 'processing'])
    .where('updated_at', '>=', since)
    .groupBy('status');
  const counts = { dispatched: 0, processing: 0 };
  for (const r of rows) counts[String(r.status) as 'dispatched' | 'processing'] = toNumber(r.n);
  return counts;
}
