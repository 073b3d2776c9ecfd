/**
 * Waiting for learners to go through the queue (`enqueue --wait`): watches, never
 * dispatches or processes itself. A learner is done when their row is gone and their
 * content is stored, failed when their row is `failed`; the rest are still queued or in
 * flight. When the wait runs out, what was seen tells whether dispatch and process
 * appear to be running.
 */
import type { Database } from '../db/database.js';
import { type Learner, learnerKey, learnersWithContent } from './content-table.js';
import { type LearnerRow, type QueueState, learnerRows, queueActivitySince, queueClock } from './queue-table.js';

export interface WaitOptions {
  timeoutMs: number;
  /** How often to look (default 1 s). */
  pollMs?: number;
  signal?: AbortSignal;
  /** After each look: learners finished (done, failed or removed) so far, of `total`. */
  onProgress?: (finished: number, total: number) => void;
}

export interface WaitResult {
  learners: number;
  done: Learner[];
  failed: Array<Learner & { error: string | null; attempts: number }>;
  /** Rows that left the queue without content (deleted by an operator, say). */
  removed: Learner[];
  /** Still queued (`due` false: in retry back-off) or in flight when the wait ended. */
  pending: Array<Learner & { state: Exclude<QueueState, 'failed'>; due: boolean }>;
  waitedMs: number;
  outcome: 'finished' | 'timed-out' | 'interrupted';
  /**
   * Whether dispatch and process appear to be running, judged when learners are left
   * pending: true when rows (ours or others') moved on during the wait, false when rows
   * waited for that step and none moved, null when nothing waited for it.
   */
  dispatchRunning: boolean | null;
  processRunning: boolean | null;
}

export async function waitForLearners(db: Database, learners: readonly Learner[], options: WaitOptions): Promise<WaitResult> {
  const started = Date.now();
  const since = await queueClock(db);
  const pending = new Map(learners.map((l) => [learnerKey(l), l]));
  const lastState = new Map<string, QueueState>();
  const result: WaitResult = { learners: pending.size, done: [], failed: [], removed: [], pending: [], waitedMs: 0, outcome: 'finished', dispatchRunning: null, processRunning: null };
  // What moved during the wait: a row leaving 'queued' means dispatch runs; a row reaching
  // 'processing', failing, or finishing with content means process does.
  let leftQueued = false;
  let reachedProcess = false;
  let rows = new Map<string, LearnerRow>();

  for (;;) {
    rows = await learnerRows(db, [...pending.values()]);
    const gone = [...pending].filter(([key]) => !rows.has(key));
    const withContent = gone.length > 0 ? await learnersWithContent(db, gone.map(([, l]) => l)) : new Set<string>();
    for (const [key, learner] of gone) {
      pending.delete(key);
      if (withContent.has(key)) {
        result.done.push(learner);
        leftQueued = reachedProcess = true;
      } else {
        result.removed.push(learner);
      }
    }
    for (const [key, row] of rows) {
      if (lastState.get(key) === 'queued' && row.state !== 'queued') leftQueued = true;
      if (row.state === 'processing' || row.state === 'failed') reachedProcess = true;
      lastState.set(key, row.state);
      if (row.state === 'failed') {
        result.failed.push({ ...pending.get(key)!, error: row.lastError, attempts: row.attempts });
        pending.delete(key);
      }
    }
    options.onProgress?.(result.learners - pending.size, result.learners);
    if (pending.size === 0) break;
    if (options.signal?.aborted) {
      result.outcome = 'interrupted';
      break;
    }
    const left = options.timeoutMs - (Date.now() - started);
    if (left <= 0) {
      result.outcome = 'timed-out';
      break;
    }
    await pause(Math.min(options.pollMs ?? 1_000, left), options.signal);
  }
  result.waitedMs = Date.now() - started;
  if (pending.size === 0) return result;

  const now = await queueClock(db);
  for (const [key, learner] of pending) {
    const row = rows.get(key)!;
    const state = row.state as Exclude<QueueState, 'failed'>;
    result.pending.push({ ...learner, state, due: state !== 'queued' || (row.availableAt ?? now) <= now });
  }
  const activity = await queueActivitySince(db, since);
  const dueQueued = result.pending.some((p) => p.state === 'queued' && p.due);
  const waitingForProcess = result.pending.some((p) => p.state === 'dispatched');
  if (leftQueued || activity.dispatched + activity.processing > 0) result.dispatchRunning = true;
  else if (dueQueued) result.dispatchRunning = false;
  if (reachedProcess || activity.processing > 0) result.processRunning = true;
  else if (waitingForProcess) result.processRunning = false;
  return result;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
