/** `enqueue --wait`: watch the learners a request queued until they are done or failed, and say how it went. */
import { ExitCode } from '../errors.js';
import type { Learner } from '../rescope/content-table.js';
import type { WaitResult } from '../rescope/wait.js';
import type { Outcome, RunContext } from './command.js';
import { formatDuration } from './format.js';
import { integerOption, plural } from './options.js';

/** Seconds to wait: `--wait` alone is 300. */
export function waitSeconds(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 300;
  return integerOption(value, '--wait', 1, 86_400);
}

/** Learners listed by name in the output; the counts cover them all. */
const listed = { human: 20, json: 1_000 };

const where = (l: Learner) => `learner ${l.userId} course ${l.courseId} ${l.classId ? `class ${l.classId}` : '(independent learning)'}`;

export async function waitAfterEnqueue(ctx: RunContext, learners: readonly Learner[], seconds: number, enqueued: Outcome): Promise<Outcome> {
  const [{ createProgress }, { waitForLearners }] = await Promise.all([import('../log/progress.js'), import('../rescope/wait.js')]);
  const progress = createProgress({ label: 'wait', unit: 'learners', total: learners.length, stream: ctx.io.stderr, enabled: ctx.showProgress });
  let result: WaitResult;
  try {
    result = await waitForLearners(await ctx.runtime.db(), learners, {
      timeoutMs: seconds * 1000,
      signal: ctx.runtime.signal,
      onProgress: (finished) => progress.setValue(finished),
    });
  } finally {
    progress.stop();
  }
  const ok = result.outcome === 'finished' && result.failed.length === 0 && result.removed.length === 0;
  return {
    exitCode: ok ? (enqueued.exitCode ?? ExitCode.ok) : ExitCode.failure,
    result: { ...enqueued.result, wait: waitJson(result) },
    human: `${enqueued.human}\n${waitLines(result, seconds).join('\n')}`,
  };
}

function waitJson(r: WaitResult): Record<string, unknown> {
  return {
    outcome: r.outcome,
    waitedSeconds: Math.round(r.waitedMs / 1000),
    learners: r.learners,
    done: r.done.length,
    failed: r.failed.length,
    removed: r.removed.length,
    pending: r.pending.length,
    dispatchRunning: r.dispatchRunning,
    processRunning: r.processRunning,
    failures: r.failed.slice(0, listed.json).map(({ userId, courseId, classId, attempts, error }) => ({ userId, courseId, classId, attempts, error })),
    waiting: r.pending.slice(0, listed.json).map(({ userId, courseId, classId, state, due }) => ({ userId, courseId, classId, state, due })),
  };
}

function waitLines(r: WaitResult, seconds: number): string[] {
  const waited = formatDuration(r.waitedMs / 1000);
  if (r.learners === 0) return ['nothing to wait for: no learner was queued'];
  const headline =
    r.outcome === 'finished' && r.failed.length === 0 && r.removed.length === 0
      ? `waited ${waited}: all ${plural(r.learners, 'learner')} done`
      : `${r.outcome === 'timed-out' ? `waited ${waited} (--wait ${seconds}), ran out` : r.outcome === 'interrupted' ? `stopped waiting after ${waited} (signal)` : `waited ${waited}`}: ` +
        `${r.done.length} of ${plural(r.learners, 'learner')} done, ${r.failed.length} failed` +
        `${r.removed.length > 0 ? `, ${r.removed.length} removed from the queue without content` : ''}` +
        `${r.pending.length > 0 ? `, ${r.pending.length} still queued or in flight` : ''}`;
  const lines = [headline];
  const list = <T>(title: string, items: readonly T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    lines.push(`${title}:`);
    for (const item of items.slice(0, listed.human)) lines.push(`  ${line(item)}`);
    if (items.length > listed.human) lines.push(`  … and ${items.length - listed.human} more (--json lists up to ${listed.json})`);
  };
  list('failed', r.failed, (f) => `${where(f)}, ${plural(f.attempts, 'attempt')}: ${f.error ?? '(no error recorded)'}`);
  list('removed without content', r.removed, where);
  list('still waiting', r.pending, (p) => `${where(p)}: ${p.state === 'queued' ? (p.due ? 'queued, due' : 'queued, waiting for a retry') : p.state}`);
  if (r.pending.length > 0) {
    const due = r.pending.filter((p) => p.state === 'queued' && p.due).length;
    const dispatched = r.pending.filter((p) => p.state === 'dispatched').length;
    lines.push(
      r.dispatchRunning === true
        ? 'dispatch appears to be running: rows were dispatched during the wait'
        : r.dispatchRunning === false
          ? `dispatch does not appear to be running: ${plural(due, 'row')} due, and no row was dispatched during the wait`
          : 'dispatch: cannot tell (no row of these was due)',
      r.processRunning === true
        ? 'process appears to be running: rows were processed during the wait'
        : r.processRunning === false
          ? `process does not appear to be running: ${plural(dispatched, 'row')} dispatched, and no row was processed during the wait`
          : 'process: cannot tell (no row of these reached dispatched)',
    );
  }
  return lines;
}
