/**
 * The queue table, the moves of dispatch and process: recover expired leases, claim,
 * hand over, finish, fail, release. Each is a compare-and-set on the row's status.
 */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import type { Dialect } from '../db/dialect.js';
import { type Statement, execute, statementOf } from '../db/execute.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toBool, toNumber } from '../db/values.js';
import { contentTable } from './content-table.js';
import { type QueueRowBase, maxErrorLength, queueTable, toQueueRowBase } from './queue-table-shared.js';

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

export interface ClaimedRow extends QueueRowBase {
  /** Replace the learner's stored content rather than treat the row as done. */
  override: boolean;
}

function toClaimedRow(r: Record<string, unknown>): ClaimedRow {
  return { ...toQueueRowBase(r), override: toBool(r.override) };
}

export interface ClaimedBatch {
  /** Rows moved to 'processing' by this call, with their learners. */
  rows: ClaimedRow[];
  /** Rows deleted as done: their learner already had content and they did not ask to replace it. */
  alreadyDone: number;
}

/**
 * Takes the rows among `ids` that are still 'dispatched' (compare-and-set: a row another
 * worker took meanwhile is left to it). A row whose learner already has content, and
 * that is not marked override, is deleted as done (a repeat request); every other is
 * moved to 'processing' and returned with its learner. A row marked override after this
 * started is claimed, not deleted.
 *
 * Where the dialect allows (writable CTEs) this is ONE statement: the delete, then the
 * update of the ids it did not delete. Elsewhere the same two statements run one after
 * the other; a learner whose content another worker stores between them is found when
 * this worker stores (the insert skips it and the row counts as done).
 */
export async function claimDispatched(db: Database, ids: readonly number[]): Promise<ClaimedBatch> {
  const { knex, dialect } = db;
  const claimed: ClaimedBatch = { rows: [], alreadyDone: 0 };
  const deleteDone = (chunk: readonly number[]) =>
    whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint').where({ status: 'dispatched', override: false }).whereExists(learnerHasContent(knex)).del();
  for (const chunk of listChunks(dialect, ids)) {
    if (dialect.writableCte) {
      const done = statementOf(deleteDone(chunk));
      // The update skips the ids the delete returned: both see the statement's snapshot,
      // so without that the update would find the deleted rows still there.
      const { sql: claimSql, bindings: claimBindings } = statementOf(
        whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint')
          .where('status', 'dispatched')
          .whereRaw('?? NOT IN (SELECT ?? FROM ??)', ['id', 'id', 'done'])
          .update({ status: 'processing', updated_at: knex.raw(dialect.nowSql) }),
      );
      const columns = claimColumns.join(', ');
      const sql =
        `WITH done AS (${done.sql} RETURNING id), claimed AS (${claimSql} RETURNING ${columns}) ` +
        `SELECT ${columns}, true AS claimed FROM claimed UNION ALL SELECT id, NULL, NULL, NULL, NULL, NULL, false FROM done`;
      const { rows } = await execute<Record<string, unknown>>(knex, dialect, { sql, bindings: [...done.bindings, ...claimBindings] });
      for (const r of rows) {
        if (r.claimed === true) claimed.rows.push(toClaimedRow(r));
        else claimed.alreadyDone++;
      }
    } else {
      claimed.alreadyDone += await deleteDone(chunk);
      const rows: Array<Record<string, unknown>> = await whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint')
        .where('status', 'dispatched')
        .update({ status: 'processing', updated_at: knex.raw(dialect.nowSql) }, [...claimColumns]);
      claimed.rows.push(...rows.map(toClaimedRow));
    }
  }
  return claimed;
}

const claimColumns = ['id', 'user_id', 'course_id', 'class_id', 'attempts', 'override'] as const;

/**
 * "The queue row's learner has content" for a correlated EXISTS: the content table's
 * unique key leads with the learner and course, so each row is one index probe.
 */
function learnerHasContent(knex: Knex): Knex.QueryCallback {
  return function (this: Knex.QueryBuilder) {
    this.select(knex.raw('1'))
      .from(`${contentTable} as c`)
      .whereRaw('?? = ??', ['c.user_id', `${queueTable}.user_id`])
      .whereRaw('?? = ??', ['c.course_id', `${queueTable}.course_id`])
      .where((q) => q.whereRaw('?? = ??', ['c.class_id', `${queueTable}.class_id`]).orWhere((both) => both.whereNull('c.class_id').whereNull(`${queueTable}.class_id`)));
  };
}

/** The delete of finished rows still 'processing', as statements (to run with the content store). */
export function completeProcessingStatements(k: Knex, dialect: Dialect, ids: readonly number[]): Statement[] {
  return listChunks(dialect, ids).map((chunk) => statementOf(whereInList(k(queueTable), dialect, 'id', chunk, 'bigint').where('status', 'processing').del()));
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
 * `maxAttempts` are used up. Rows that share their attempts and their error (a batch
 * whose computation failed: all of it) are changed by one statement per list chunk.
 */
export async function recordFailures(
  db: Database,
  failures: readonly RowFailure[],
  options: { maxAttempts: number; retryDelaySeconds: number },
): Promise<{ retried: number; failed: number }> {
  const { knex, dialect } = db;
  const groups = new Map<string, { attempts: number; error: string; ids: number[] }>();
  for (const { row, error } of failures) {
    const text = error.slice(0, maxErrorLength);
    const key = `${row.attempts}\u0000${text}`;
    const group = groups.get(key) ?? { attempts: row.attempts, error: text, ids: [] };
    group.ids.push(row.id);
    groups.set(key, group);
  }
  let retried = 0;
  let failed = 0;
  for (const { attempts, error, ids } of groups.values()) {
    const delay = Math.min(options.retryDelaySeconds * 2 ** attempts, 3600);
    const giveUp = attempts + 1 >= options.maxAttempts;
    for (const chunk of listChunks(dialect, ids)) {
      const changed = await whereInList(knex(queueTable), dialect, 'id', chunk, 'bigint')
        .where({ status: 'processing', attempts })
        .update({
          attempts: attempts + 1,
          last_error: error,
          status: giveUp ? 'failed' : null,
          available_at: knex.raw(dialect.nowPlusSecondsSql, [delay]),
          updated_at: knex.raw(dialect.nowSql),
        });
      if (giveUp) failed += changed;
      else retried += changed;
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
