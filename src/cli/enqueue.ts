import { ExitCode, NotApplicableError, NotFoundError, UsageError } from '../errors.js';
import type { EnqueueInput, EnqueueResult } from '../rescope/enqueue.js';
import { sources } from '../rescope/sources.js';
import type { CommandSpec, RunContext } from './command.js';
import { interruption } from './interrupted.js';
import { formatCount } from './format.js';
import { plural } from './options.js';

interface EnqueueOptions {
  source?: string;
  class?: string;
  course?: string;
  member?: string[];
  jsonl?: string;
  override?: boolean;
}

/** Requests read per group: bounded memory for any file size, few round trips per group. */
const linesPerGroup = 2_000;

const flagNames = { source: '--source', classId: '--class', courseId: '--course', memberIds: '--member', override: '--override' } as const;

export const enqueueCommand: CommandSpec<EnqueueOptions> = {
  name: 'enqueue',
  summary: 'queue learners for rescoping (one request by flags, or many as JSON lines)',
  description:
    'Queues one row per learner, course and class. join.class and oob name their learners (--member); ' +
    'assign.course.to.class and rescope queue every active member of the class. A class whose rescope ' +
    'setting is off queues nothing. Repeating a request adds nothing. Learners who already have content are ' +
    'left as they are, unless --override (or "override": true) asks to recompute and replace it.\n\n' +
    'With --jsonl, each line is {"source":…,"classId":…,"courseId":…,"memberIds":[…]}; bad lines are ' +
    'reported with their numbers, the good ones are still queued, and the exit code is 6.',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .option('--source <source>', `why: ${sources.join(', ')} (oob first, then in that order)`)
      .option('--class <uuid>', 'the class (omit for independent learning, oob only)')
      .option('--course <uuid>', "the course; in a class it must be the class's course")
      .option('--member <uuid...>', 'learners to queue (join.class, oob)')
      .option('--jsonl <file|->', 'read many requests as JSON lines from a file, or - for stdin')
      .option('--override', 'recompute learners who already have content and replace it (with --jsonl: every line)');
  },
  async run(ctx, opts) {
    const fromFlags = opts.source !== undefined || opts.class !== undefined || opts.course !== undefined || opts.member !== undefined;
    if (opts.jsonl !== undefined && fromFlags) throw new UsageError('give either --jsonl or --source/--class/--course/--member, not both');
    if (opts.jsonl === undefined && !fromFlags) throw new UsageError('nothing to queue: give --source (with --class, --course, --member) or --jsonl <file|->');
    return opts.jsonl !== undefined ? fromJsonLines(ctx, opts.jsonl, opts.override === true) : fromFlagRequest(ctx, opts);
  },
};

async function fromFlagRequest(ctx: RunContext, opts: EnqueueOptions) {
  const [{ parseEnqueueRequest }, { enqueue }] = await Promise.all([import('../rescope/enqueue-request.js'), import('../rescope/enqueue.js')]);
  const parsed = parseEnqueueRequest(
    { source: opts.source ?? null, classId: opts.class, courseId: opts.course, memberIds: opts.member, override: opts.override === true },
    flagNames,
  );
  if (!parsed.ok) throw new UsageError(parsed.error);
  const result = await enqueue(await ctx.runtime.db(), [{ line: null, request: parsed.value }], { log: ctx.log });
  const [rejection] = result.rejected;
  if (rejection) {
    if (rejection.reason === 'not-found') throw new NotFoundError(rejection.error);
    if (rejection.reason === 'not-applicable') throw new NotApplicableError(rejection.error);
    throw new UsageError(rejection.error);
  }
  return outcome(result);
}

async function fromJsonLines(ctx: RunContext, source: string, overrideAll: boolean) {
  const [{ inGroups, openJsonLines, readJsonLines }, { createProgress }, { maxMembersPerRequest, parseEnqueueRequest }, { emptyEnqueueResult, enqueue, mergeEnqueueResults }] =
    await Promise.all([import('../input/json-lines.js'), import('../log/progress.js'), import('../rescope/enqueue-request.js'), import('../rescope/enqueue.js')]);
  const { input } = await openJsonLines(source, ctx.io.stdin, '--jsonl');
  const db = await ctx.runtime.db();
  ctx.log.debug(`reading requests from --jsonl ${source}`);
  const total = emptyEnqueueResult();
  const progress = createProgress({ label: 'enqueue', unit: 'lines', total: null, stream: ctx.io.stderr, enabled: ctx.showProgress });
  let lastLine = 0;
  try {
    const lines = readJsonLines(input, { signal: ctx.io.signal, name: `--jsonl ${source}`, tooLongHint: `a request holds at most ${formatCount(maxMembersPerRequest)} member ids: split it into several lines` });
    for await (const group of inGroups(lines, linesPerGroup)) {
      const inputs: EnqueueInput[] = [];
      for (const entry of group) {
        if (!entry.ok) {
          total.rejected.push({ line: entry.line, error: entry.error, reason: 'invalid' });
          continue;
        }
        const parsed = parseEnqueueRequest(entry.value);
        if (parsed.ok) inputs.push({ line: entry.line, request: overrideAll ? { ...parsed.value, override: true } : parsed.value });
        else total.rejected.push({ line: entry.line, error: parsed.error, reason: 'invalid' });
      }
      if (inputs.length > 0) mergeEnqueueResults(total, await enqueue(db, inputs, { log: ctx.log }));
      lastLine = group[group.length - 1]!.line;
      progress.advance(group.length);
    }
  } finally {
    progress.stop();
  }
  total.rejected.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  for (const r of total.rejected) ctx.log.warn(`line ${r.line}: ${r.error}`);
  const stopped = interruption(ctx.io.signal, lastLine);
  const result = outcome(total);
  if (!stopped) return result;
  return {
    exitCode: ExitCode.failure,
    result: { ...result.result, interruptedAfterLine: stopped.afterLine },
    human: `${result.human}\n${stopped.message}`,
  };
}

function outcome(result: EnqueueResult) {
  const lines = [
    `queued ${plural(result.queued, 'learner')}; ${plural(result.duplicates, 'duplicate')} (already queued or repeated); ` +
      `${plural(result.dropped, 'member id')} dropped (not an active member of the class)`,
  ];
  if (result.requeued > 0) lines.push(`queued again ${plural(result.requeued, 'learner')} whose earlier rows had failed`);
  for (const off of result.rescopeOff) {
    lines.push(`class ${off.classId} has rescope off: nothing queued for it${off.line === null ? '' : ` (line ${off.line})`}`);
  }
  if (result.rejected.length > 0) {
    lines.push(`rejected ${plural(result.rejected.length, 'request')}:`);
    for (const r of result.rejected) lines.push(`  line ${r.line}: ${r.error}`);
  }
  return {
    exitCode: result.rejected.length > 0 ? ExitCode.partial : ExitCode.ok,
    result: {
      queued: result.queued,
      duplicates: result.duplicates,
      dropped: result.dropped,
      requeued: result.requeued,
      rescopeOff: result.rescopeOff.length,
      rejected: result.rejected.map(({ line, error }) => ({ line, error })),
    },
    human: lines.join('\n'),
  };
}
