/** The queue table, enqueue's part: new rows, and what a new request changes on existing ones. */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import { execute, statementOf } from '../db/execute.js';
import { insertRows, listChunks, whereInList } from '../db/lists.js';
import { queueTable } from './queue-table-shared.js';
import { type Source, sourcePriority } from './sources.js';

export interface NewQueueRow {
  userId: string;
  courseId: string;
  classId: string | null;
  source: Source;
  /** Recompute and replace the learner's content even when it is stored already. */
  override: boolean;
}

const queueColumns = [
  ['user_id', 'uuid'],
  ['course_id', 'uuid'],
  ['class_id', 'uuid'],
  ['source', 'text'],
  ['priority', 'smallint'],
  ['override', 'boolean'],
] as const;

/** Inserts rows, skipping any learner already queued for that course and class. Returns how many were inserted. */
export async function insertQueueRows(db: Database, rows: readonly NewQueueRow[]): Promise<number> {
  const values = rows.map((r) => [r.userId, r.courseId, r.classId, r.source, sourcePriority[r.source], r.override]);
  return insertRows(db.knex, db.dialect, queueTable, queueColumns, values, { ignoreDuplicates: true });
}

/**
 * Queues every active member of a class in one INSERT ... SELECT: the database does the
 * work, however large the class. Member ids are written in the lower-case form of our
 * own tables, whatever case the class_member table holds. Returns how many rows were inserted.
 *
 * Members already queued for the course and class are left out by the SELECT itself, and
 * the rows go in in learner order, so the learner index grows at its end instead of at
 * random pages. The insert carries no conflict clause: skipping duplicates costs every
 * row a speculative insertion (about 40% of the statement's database CPU, measured). Only
 * when another enqueue queued some of the same learners meanwhile does the insert break
 * the unique index; it then runs again, skipping duplicates.
 */
export async function insertActiveMembers(db: Database, target: { classId: string; courseId: string; source: Source; override: boolean }): Promise<number> {
  const { knex, dialect } = db;
  const member = dialect.canonicalUuidSql('m.??');
  const statement = (ignoreDuplicates: boolean) =>
    statementOf(
      knex.raw(
        `INSERT INTO ?? (??, ??, ??, ??, ??, ??) ` +
          `SELECT ${member}, ${dialect.uuidParam}, ${dialect.uuidParam}, ${dialect.stringParam}, ${dialect.smallintParam}, ${dialect.booleanParam} ` +
          `FROM ?? m WHERE m.?? = ? AND m.?? = ? ` +
          `AND NOT EXISTS (SELECT 1 FROM ?? q WHERE q.?? = ${member} AND q.?? = ? AND q.?? = ?) ` +
          `ORDER BY ${member}${ignoreDuplicates && dialect.ignoreDuplicatesClause ? ` ${dialect.ignoreDuplicatesClause}` : ''}`,
        [
          queueTable, 'user_id', 'course_id', 'class_id', 'source', 'priority', 'override',
          'user_id', target.courseId, target.classId, target.source, sourcePriority[target.source], target.override,
          'class_member', 'class_id', target.classId, 'is_active', true,
          queueTable, 'user_id', 'user_id', 'course_id', target.courseId, 'class_id', target.classId,
          'user_id',
        ],
      ),
    );
  try {
    return (await execute(knex, dialect, statement(false), { countAffected: true })).affected;
  } catch (err) {
    if (!dialect.isUniqueViolation(err)) throw err;
    return (await execute(knex, dialect, statement(true), { countAffected: true })).affected;
  }
}

export type LearnerSet = { kind: 'members'; userIds: readonly string[] } | { kind: 'active-members' };

/**
 * For learners already on the queue: a new request re-queues rows that had failed (a
 * fresh request is a reason to try again) and raises the priority of queued rows when
 * the new source is more urgent, so an `oob` request for a learner a class-wide request
 * already queued is not left behind that class. A row keeps the more urgent of its own
 * priority and the request's (and the source that goes with it): re-queuing a failed
 * `oob` row by a class-wide request must not send it behind the class.
 *
 * An override request also marks the learner's queued, failed and dispatched rows
 * `override`, so the worker that takes them replaces stored content instead of finding
 * it and calling the row done. A row already 'processing' may have read the learner's
 * statuses before the change the request announces: it goes back to the queue, marked
 * override, so the learner is computed once more. The worker that holds it still stores
 * what it computed (a reader keeps finding content) but, the row being no longer
 * 'processing', leaves it queued. Returns how many rows were re-queued (failed ones, and
 * those sent back from 'processing').
 */
export async function refreshExisting(
  db: Database,
  target: { courseId: string; classId: string | null; source: Source; override: boolean; learners: LearnerSet },
): Promise<number> {
  const { knex, dialect } = db;
  const priority = sourcePriority[target.source];
  const scope = (q: Knex.QueryBuilder, userIds?: readonly string[]) => {
    q.where('course_id', target.courseId);
    if (target.classId === null) q.whereNull('class_id');
    else q.where('class_id', target.classId);
    if (userIds) whereInList(q, dialect, 'user_id', userIds, 'uuid');
    else q.whereIn('user_id', knex('class_member').select('user_id').where({ class_id: target.classId, is_active: true }));
    return q;
  };
  // Both CASEs read the row's priority before the update.
  const moreUrgent = {
    priority: knex.raw('CASE WHEN ?? > ? THEN ? ELSE ?? END', ['priority', priority, priority, 'priority']),
    source: knex.raw('CASE WHEN ?? > ? THEN ? ELSE ?? END', ['priority', priority, target.source, 'source']),
  };
  const override = target.override ? { override: true } : {};
  const userChunks = target.learners.kind === 'members' ? listChunks(dialect, target.learners.userIds) : [undefined];
  let requeued = 0;
  for (const userIds of userChunks) {
    requeued += await scope(knex(queueTable), userIds)
      .where('status', 'failed')
      .update({ status: null, attempts: 0, ...moreUrgent, ...override, available_at: knex.raw(dialect.nowSql), updated_at: knex.raw(dialect.nowSql) });
    const queued = scope(knex(queueTable), userIds).whereNull('status');
    if (target.override) {
      await queued
        .where((q) => q.where('priority', '>', priority).orWhere('override', false))
        .update({ ...moreUrgent, override: true, updated_at: knex.raw(dialect.nowSql) });
      // No updated_at: that is the lease clock of a row in flight.
      await scope(knex(queueTable), userIds).where({ status: 'dispatched', override: false }).update({ override: true });
      requeued += await scope(knex(queueTable), userIds)
        .where('status', 'processing')
        .update({ status: null, ...moreUrgent, override: true, available_at: knex.raw(dialect.nowSql), updated_at: knex.raw(dialect.nowSql) });
    } else {
      await queued.where('priority', '>', priority).update({ priority, source: target.source, updated_at: knex.raw(dialect.nowSql) });
    }
  }
  return requeued;
}
