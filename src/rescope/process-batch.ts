/**
 * One batch of bus messages, start to finish: claim the rows still dispatched and not yet
 * rescoped (or marked override: recompute and replace), compute their content with
 * set-based queries, and store the content and delete the rows in one transaction. If
 * that transaction fails, the batch is split until the rows that cannot be stored stand
 * alone, so a single bad row costs only its own attempt.
 */
import type { Database } from '../db/database.js';
import { executeTogether } from '../db/execute.js';
import { withRetry } from '../db/retry.js';
import { errorMessage, lostConnection } from '../errors.js';
import { shown } from '../ids.js';
import type { Logger } from '../log/logger.js';
import { parseBusMessage } from './bus.js';
import { type NewContent, insertContent, insertContentStatements, replaceContent, replaceContentStatements } from './content-table.js';
import type { CourseStructureCache } from './course-structure.js';
import { achievedCompetencies } from './achieved-competencies.js';
import {
  type ClaimedRow,
  type RowFailure,
  claimDispatched,
  completeProcessing,
  completeProcessingStatements,
  recordFailures,
} from './queue-table.js';
import { skippedContentFor } from './skip-rule.js';

export interface ProcessCounts {
  /** Rows whose content this run stored. */
  processed: number;
  /** Rows whose learner already had content: deleted without recomputing. */
  alreadyDone: number;
  /** Rows that failed and went back to the queue for a later attempt. */
  retried: number;
  /** Rows that failed their last attempt and are now 'failed'. */
  failed: number;
  /** Messages for rows not in 'dispatched' (duplicates, already done, claimed elsewhere). */
  ignored: number;
  /** Messages that were not queue ids at all. */
  invalidMessages: number;
}

export function zeroCounts(): ProcessCounts {
  return { processed: 0, alreadyDone: 0, retried: 0, failed: 0, ignored: 0, invalidMessages: 0 };
}

export function addCounts(into: ProcessCounts, more: ProcessCounts): void {
  for (const key of Object.keys(into) as Array<keyof ProcessCounts>) into[key] += more[key];
}

export interface BatchContext {
  db: Database;
  cache: CourseStructureCache;
  log: Logger;
  maxAttempts: number;
  retryDelaySeconds: number;
  /**
   * True once a stopping worker has cancelled the statements of its unfinished batches: a
   * failure is then the cancel, not the rows' fault, and costs them no attempt (the
   * worker gives them back to the queue).
   */
  cancelled?: () => boolean;
}

/**
 * Processes one batch of messages. `claimed` receives the ids this batch moved to
 * 'processing', so a stopping worker can give back what it will not finish.
 */
export async function processBatch(ctx: BatchContext, messages: readonly string[], claimed: Set<number>): Promise<ProcessCounts> {
  const { db, log } = ctx;
  const counts = zeroCounts();
  const ids = new Set<number>();
  for (const message of messages) {
    const id = parseBusMessage(message);
    if (id === null) {
      counts.invalidMessages++;
      log.warn(`ignored a bus message that is not a queue id: ${shown(message)}`);
    } else if (ids.has(id)) {
      counts.ignored++;
    } else {
      ids.add(id);
    }
  }
  if (ids.size === 0) return counts;

  // Claim the rows still dispatched whose learner has no content yet, or that ask to
  // replace it (override); rows whose learner already has content are deleted without
  // recomputing. Both are compare-and-set on 'dispatched', so a row another worker took
  // meanwhile is left to it.
  // A batch whose worker has given up on it (see BatchContext.cancelled) starts no new
  // statement: one started now would only wait behind the same lock.
  const stopIfCancelled = () => {
    if (ctx.cancelled?.()) throw new Error('the batch was given up: the worker is stopping');
  };
  stopIfCancelled();
  const { rows, alreadyDone } = await claimDispatched(db, [...ids]);
  counts.alreadyDone = alreadyDone;
  for (const row of rows) claimed.add(row.id);
  counts.ignored += ids.size - counts.alreadyDone - rows.length;
  if (rows.length === 0) return counts;

  let failures: RowFailure[] = [];
  let documents: Array<{ row: ClaimedRow; content: NewContent }> = [];
  stopIfCancelled();
  try {
    documents = await computeContent(ctx, rows);
  } catch (err) {
    if (ctx.cancelled?.()) throw err;
    log.warn(`computing content for ${rows.length} rows failed`, { error: errorMessage(err) });
    failures = rows.map((row) => ({ row, error: `computing content failed: ${errorMessage(err)}` }));
  }

  if (documents.length > 0) {
    stopIfCancelled();
    const stored = await storeAll(ctx, documents);
    counts.processed += stored.processed;
    counts.alreadyDone += stored.alreadyDone;
    failures = failures.concat(stored.failures);
  }
  if (failures.length > 0) {
    const recorded = await recordFailures(db, failures, ctx);
    counts.retried += recorded.retried;
    counts.failed += recorded.failed;
  }
  return counts;
}

async function computeContent(ctx: BatchContext, rows: readonly ClaimedRow[]): Promise<Array<{ row: ClaimedRow; content: NewContent }>> {
  const courseIds = rows.map((r) => r.courseId);
  const structures = await ctx.cache.get(courseIds);
  const codes = new Set<string>();
  for (const structure of structures.values()) for (const code of structure.index.itemsByCompetency.keys()) codes.add(code);
  const achieved = await achievedCompetencies(ctx.db, rows.map((r) => r.userId), courseIds, codes);
  return rows.map((row) => {
    const structure = structures.get(row.courseId);
    if (!structure) throw new Error(`no structure loaded for course ${row.courseId}`);
    const content = skippedContentFor(structure, achieved.get(row.userId) ?? []);
    return { row, content: { userId: row.userId, courseId: row.courseId, classId: row.classId, json: JSON.stringify(content) } };
  });
}

interface Stored {
  processed: number;
  alreadyDone: number;
  failures: RowFailure[];
}

/**
 * Content and queue deletes for the batch in one transaction. The first attempt inserts
 * plainly (a learner stored meanwhile by another worker is rare, and skipping duplicates
 * costs every row a speculative insert); if it fails, the batch is split in halves,
 * which skip duplicates, until the rows that cannot be stored stand alone. Override rows
 * replace their learner's content in place instead.
 */
async function storeAll(ctx: BatchContext, documents: ReadonlyArray<{ row: ClaimedRow; content: NewContent }>): Promise<Stored> {
  try {
    return await storeTogether(ctx, documents, false);
  } catch (err) {
    // A lost connection is not the rows' fault: splitting would only spend their attempts.
    // The run stops; the rows come back with their lease.
    if (lostConnection(err) || ctx.cancelled?.()) throw err;
    ctx.log.warn(`storing a batch of ${documents.length} failed; splitting it to isolate the cause`, { error: errorMessage(err) });
  }
  return storeSplitting(ctx, documents);
}

async function storeSplitting(ctx: BatchContext, documents: ReadonlyArray<{ row: ClaimedRow; content: NewContent }>): Promise<Stored> {
  try {
    return await storeTogether(ctx, documents, true);
  } catch (err) {
    if (ctx.cancelled?.()) throw err;
    if (documents.length === 1) {
      return { processed: 0, alreadyDone: 0, failures: [{ row: documents[0]!.row, error: `storing content failed: ${errorMessage(err)}` }] };
    }
  }
  const half = Math.ceil(documents.length / 2);
  const [first, second] = [await storeSplitting(ctx, documents.slice(0, half)), await storeSplitting(ctx, documents.slice(half))];
  return {
    processed: first.processed + second.processed,
    alreadyDone: first.alreadyDone + second.alreadyDone,
    failures: [...first.failures, ...second.failures],
  };
}

async function storeTogether(
  ctx: BatchContext,
  documents: ReadonlyArray<{ row: ClaimedRow; content: NewContent }>,
  ignoreDuplicates: boolean,
): Promise<Stored> {
  const { knex, dialect } = ctx.db;
  const fresh = documents.filter((d) => !d.row.override).map((d) => d.content);
  const replacing = documents.filter((d) => d.row.override).map((d) => d.content);
  const ids = documents.map((d) => d.row.id);
  const inserted = await withRetry(dialect, ctx.log, 'store content', async () => {
    if (dialect.writableCte) {
      // One statement: content inserted, content replaced, rows deleted, atomically.
      const statements = [...insertContentStatements(knex, dialect, fresh, { ignoreDuplicates }), ...replaceContentStatements(dialect, replacing)];
      const counts = await executeTogether(knex, dialect, [...statements, ...completeProcessingStatements(knex, dialect, ids)]);
      return counts.slice(0, statements.length).reduce((a, b) => a + b, 0);
    }
    return knex.transaction(async (trx) => {
      const n = (await insertContent(trx, dialect, fresh, { ignoreDuplicates })) + (await replaceContent(trx, dialect, replacing));
      // Rows recovered by a dispatcher meanwhile are no longer 'processing' and stay: the
      // next worker to get them finds the content stored and deletes them as done.
      await completeProcessing(trx, dialect, ids);
      return n;
    });
  });
  return { processed: inserted, alreadyDone: documents.length - inserted, failures: [] };
}
