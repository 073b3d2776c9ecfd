/**
 * The queue table module: the only code that reads or writes `rescope_queue`.
 *
 * Row states: NULL (queued) → 'dispatched' → 'processing' → deleted (done), and
 * 'failed' for rows that used up their attempts, kept with their last error. Every
 * transition is a compare-and-set on the status (`... AND status = 'dispatched'`), so a
 * row is worked on by one worker even when many dispatch and process runs overlap.
 */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import type { Dialect } from '../db/dialect.js';
import { execute, statementOf } from '../db/execute.js';
import { insertRows, listChunks, whereInList } from '../db/lists.js';
import { toBool, toDate, toNumber, toUuid } from '../db/values.js';
import { type Source, sourcePriority } from './sources.js';

export const queueTable = 'rescope_queue';

/** Longest error text kept on a row (the column is varchar(2000)). */
const maxErrorLength = 2000;

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

// ---------------------------------------------------------------- enqueue

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
 */
export async function insertActiveMembers(db: Database, target: { classId: string; courseId: string; source: Source; override: boolean }): Promise<number> {
  const { knex, dialect } = db;
  const sql =
    `INSERT INTO ?? (??, ??, ??, ??, ??, ??) ` +
    `SELECT ${dialect.canonicalUuidSql('m.??')}, ${dialect.uuidParam}, ${dialect.uuidParam}, ${dialect.stringParam}, ${dialect.smallintParam}, ${dialect.booleanParam} ` +
    `FROM ?? m WHERE m.?? = ? AND m.?? = ? ${dialect.ignoreDuplicatesClause}`;
  const bindings = [
    queueTable, 'user_id', 'course_id', 'class_id', 'source', 'priority', 'override',
    'user_id', target.courseId, target.classId, target.source, sourcePriority[target.source], target.override,
    'class_member', 'class_id', target.classId, 'is_active', true,
  ];
  return (await execute(knex, dialect, statementOf(knex.raw(sql, bindings)), { countAffected: true })).affected;
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
 * it and calling the row done. (A row already 'processing' is computing fresh content
 * now.) Returns how many failed rows were re-queued.
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
    } else {
      await queued.where('priority', '>', priority).update({ priority, source: target.source, updated_at: knex.raw(dialect.nowSql) });
    }
  }
  return requeued;
}

// ---------------------------------------------------------------- dispatch

/**
 * Returns rows dispatched or processing for longer than the lease to the queue. A row
 * lost while 'processing' (a worker crashed or was killed mid-batch) counts as an
 * attempt, so a row that crashes every worker ends up 'failed' instead of looping.
 */
export async function recoverExpired(
  db: Database,
  options: { leaseSeconds: number; maxAttempts: number },
): Promise<{ recovered: number; failed: number }> {
  const { knex, dialect } = db;
  const lostMessage = `lease of ${options.leaseSeconds} s expired while processing (the worker crashed or was killed)`;
  const rows: Array<{ status: string | null }> = await knex(queueTable)
    .whereIn('status', ['dispatched', 'processing'])
    .where('updated_at', '<', knex.raw(dialect.nowPlusSecondsSql, [-options.leaseSeconds]))
    .update(
      {
        status: knex.raw("CASE WHEN ?? = 'processing' AND ?? + 1 >= ? THEN 'failed' ELSE NULL END", ['status', 'attempts', options.maxAttempts]),
        attempts: knex.raw("CASE WHEN ?? = 'processing' THEN ?? + 1 ELSE ?? END", ['status', 'attempts', 'attempts']),
        last_error: knex.raw("CASE WHEN ?? = 'processing' THEN ? ELSE ?? END", ['status', lostMessage, 'last_error']),
        updated_at: knex.raw(dialect.nowSql),
      },
      ['status'],
    );
  const failed = rows.filter((r) => r.status === 'failed').length;
  return { recovered: rows.length - failed, failed };
}

/** Moves up to `limit` due queued rows to 'dispatched' in one atomic statement; ids in priority order. */
export async function claimQueued(db: Database, limit: number): Promise<number[]> {
  const { knex, dialect } = db;
  const { rows } = await execute<{ id: unknown; priority: unknown }>(knex, dialect, { sql: dialect.claimQueuedSql(queueTable), bindings: [limit] });
  return rows
    .map((r) => ({ id: toNumber(r.id), priority: toNumber(r.priority) }))
    .sort((a, b) => a.priority - b.priority || a.id - b.id)
    .map((r) => r.id);
}

/** Puts dispatched rows back to queued (their ids never reached the bus). */
export async function releaseDispatched(db: Database, ids: readonly number[]): Promise<number> {
  return releaseFrom(db, ids, 'dispatched');
}

// ---------------------------------------------------------------- process

export interface ClaimedRow {
  id: number;
  userId: string;
  courseId: string;
  classId: string | null;
  attempts: number;
  /** Replace the learner's stored content rather than treat the row as done. */
  override: boolean;
}

function toClaimedRow(r: Record<string, unknown>): ClaimedRow {
  return {
    id: toNumber(r.id),
    userId: toUuid(r.user_id),
    courseId: toUuid(r.course_id),
    classId: r.class_id === null ? null : toUuid(r.class_id),
    attempts: toNumber(r.attempts),
    override: toBool(r.override),
  };
}

/** The rows among `ids` that are still 'dispatched', with their learners. */
export async function dispatchedRows(db: Database, ids: readonly number[]): Promise<ClaimedRow[]> {
  const { knex, dialect } = db;
  const found: ClaimedRow[] = [];
  for (const chunk of listChunks(dialect, ids)) {
    const rows: Array<Record<string, unknown>> = await whereInList(
      knex(queueTable).select('id', 'user_id', 'course_id', 'class_id', 'attempts', 'override'),
      dialect,
      'id',
      chunk,
      'bigint',
    ).where('status', 'dispatched');
    found.push(...rows.map(toClaimedRow));
  }
  return found;
}

/** Moves rows from 'dispatched' to 'processing'; returns the ids that moved (another worker may hold the rest). */
export async function claimDispatched(db: Database, ids: readonly number[]): Promise<Set<number>> {
  const { knex, dialect } = db;
  const claimed = new Set<number>();
  for (const chunk of listChunks(dialect, ids)) {
    const rows: Array<{ id: unknown }> = await whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint')
      .where('status', 'dispatched')
      .update({ status: 'processing', updated_at: knex.raw(dialect.nowSql) }, ['id']);
    for (const r of rows) claimed.add(toNumber(r.id));
  }
  return claimed;
}

/**
 * Deletes rows still 'dispatched' whose learner already has content (a repeat request).
 * A row an override request marked since it was read stays, for the next worker.
 */
export async function deleteDispatched(db: Database, ids: readonly number[]): Promise<number> {
  const { knex, dialect } = db;
  let deleted = 0;
  for (const chunk of listChunks(dialect, ids)) {
    deleted += await whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint').where({ status: 'dispatched', override: false }).del();
  }
  return deleted;
}

/** Deletes finished rows still 'processing' (inside the transaction that stored their content). */
export async function completeProcessing(trx: Knex.Transaction, dialect: Dialect, ids: readonly number[]): Promise<number> {
  let deleted = 0;
  for (const chunk of listChunks(dialect, ids)) {
    deleted += await whereInList(trx(queueTable), dialect, 'id', chunk, 'bigint').where('status', 'processing').del();
  }
  return deleted;
}

export interface RowFailure {
  row: ClaimedRow;
  error: string;
}

/**
 * Records a failed attempt: attempts + 1, the error, and either back to queued after a
 * back-off (retryDelaySeconds, doubling each attempt, at most an hour) or 'failed' once
 * `maxAttempts` are used up.
 */
export async function recordFailures(
  db: Database,
  failures: readonly RowFailure[],
  options: { maxAttempts: number; retryDelaySeconds: number },
): Promise<{ retried: number; failed: number }> {
  const { knex, dialect } = db;
  let retried = 0;
  let failed = 0;
  for (const { row, error } of failures) {
    const delay = Math.min(options.retryDelaySeconds * 2 ** row.attempts, 3600);
    const giveUp = row.attempts + 1 >= options.maxAttempts;
    const changed = await knex(queueTable)
      .where({ id: row.id, status: 'processing' })
      .update({
        attempts: knex.raw('?? + 1', ['attempts']),
        last_error: error.slice(0, maxErrorLength),
        status: giveUp ? 'failed' : null,
        available_at: knex.raw(dialect.nowPlusSecondsSql, [delay]),
        updated_at: knex.raw(dialect.nowSql),
      });
    if (changed > 0) {
      if (giveUp) failed++;
      else retried++;
    }
  }
  return { retried, failed };
}

/** Puts rows this worker claimed but will not finish (it is stopping) back to queued, without counting an attempt. */
export async function releaseProcessing(db: Database, ids: readonly number[]): Promise<number> {
  return releaseFrom(db, ids, 'processing');
}

async function releaseFrom(db: Database, ids: readonly number[], status: 'dispatched' | 'processing'): Promise<number> {
  const { knex, dialect } = db;
  let released = 0;
  for (const chunk of listChunks(dialect, ids)) {
    released += await whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint')
      .where('status', status)
      .update({ status: null, updated_at: knex.raw(dialect.nowSql) });
  }
  return released;
}
