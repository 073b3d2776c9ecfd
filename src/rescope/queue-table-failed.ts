/**
 * The queue table, the operator's part: failed rows listed, grouped by cause, queued
 * again or discarded. Every statement names `status = 'failed'`, so queued rows and rows
 * in flight are never touched, whatever the selector.
 */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toNumber } from '../db/values.js';
import { type ErrorGroup, groupErrors } from './error-groups.js';
import { type FailedRow, failedRowColumns, queueTable, toFailedRow } from './queue-table-shared.js';

/** Which failed rows: the fields given must all match; `all` alone selects every failed row. */
export interface FailedSelector {
  ids?: readonly number[];
  classId?: string;
  courseId?: string;
  /** Text the last error contains, ignoring case. */
  errorContains?: string;
  all?: boolean;
}

/** Why a selector cannot be used, or null. A selector that names nothing must never mean "all". */
export function selectorProblem(s: FailedSelector): string | null {
  const narrowing = (s.ids?.length ?? 0) > 0 || s.classId !== undefined || s.courseId !== undefined || s.errorContains !== undefined;
  if (s.all && narrowing) return 'all selects every failed row: give it alone';
  if (!s.all && !narrowing) return 'say which failed rows: ids, a class, a course, error text, or all';
  if (s.errorContains === '') return 'the error text to look for is empty';
  return null;
}

function failedRows(db: Database, s: Omit<FailedSelector, 'ids' | 'all'>, ids?: readonly number[]): Knex.QueryBuilder {
  const { knex, dialect } = db;
  const q = knex(queueTable).where('status', 'failed');
  if (s.classId !== undefined) q.where('class_id', s.classId);
  if (s.courseId !== undefined) q.where('course_id', s.courseId);
  if (s.errorContains !== undefined) q.whereRaw(dialect.containsTextSql(knex.ref('last_error').toQuery()), [s.errorContains]);
  if (ids) whereInList(q, dialect, 'id', ids, 'bigint');
  return q;
}

/** Runs `each` over the selected failed rows, id list chunked to the dialect's parameter limit; sums what it returns. */
async function eachChunk(db: Database, s: FailedSelector, each: (q: Knex.QueryBuilder) => Promise<number>): Promise<number> {
  const problem = selectorProblem(s);
  if (problem) throw new Error(`no failed rows selected: ${problem}`);
  const chunks = s.ids && s.ids.length > 0 ? listChunks(db.dialect, [...new Set(s.ids)]) : [undefined];
  let total = 0;
  for (const ids of chunks) total += await each(failedRows(db, s, ids));
  return total;
}

async function countOf(q: Knex.QueryBuilder): Promise<number> {
  const [row] = await q.count({ n: '*' });
  return toNumber(row?.n ?? 0);
}

export interface FailedList {
  /** Failed rows matching the filter. */
  total: number;
  /** All of them grouped by cause. */
  byError: ErrorGroup[];
  /** The newest `limit` of them. */
  rows: FailedRow[];
}

/**
 * Failed rows, newest first, and how many share each cause. The database groups exact
 * error texts (one row per text, not per failure); the texts are then merged by pattern.
 */
export async function listFailed(db: Database, filter: { classId?: string; courseId?: string }, limit: number): Promise<FailedList> {
  const [total, texts, rows] = await Promise.all([
    countOf(failedRows(db, filter)),
    failedRows(db, filter).select('last_error').count({ n: '*' }).groupBy('last_error') as Promise<Array<{ last_error: unknown; n: unknown }>>,
    failedRows(db, filter).select(...failedRowColumns).orderBy([{ column: 'updated_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit) as Promise<Array<Record<string, unknown>>>,
  ]);
  const byError = groupErrors(texts.map((r) => ({ error: r.last_error === null ? null : String(r.last_error), rows: toNumber(r.n) })));
  return { total, byError, rows: rows.map(toFailedRow) };
}

/**
 * Moves the selected failed rows back to queued: attempts reset, due now. Their last error
 * stays until they succeed (the row is then deleted) or fail again. With dryRun, only counts.
 */
export async function retryFailed(db: Database, selector: FailedSelector, options: { dryRun?: boolean } = {}): Promise<number> {
  const { knex, dialect } = db;
  return eachChunk(db, selector, (q) =>
    options.dryRun ? countOf(q) : q.update({ status: null, attempts: 0, available_at: knex.raw(dialect.nowSql), updated_at: knex.raw(dialect.nowSql) }),
  );
}

/** Deletes the selected failed rows. With dryRun, only counts. */
export async function discardFailed(db: Database, selector: FailedSelector, options: { dryRun?: boolean } = {}): Promise<number> {
  return eachChunk(db, selector, (q) => (options.dryRun ? countOf(q) : q.del()));
}
