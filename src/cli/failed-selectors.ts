/** The selectors retry-failed and discard-failed share: flags, their parsing, and how they read back. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { shown } from '../ids.js';
import type { FailedSelector } from '../rescope/queue-table.js';
import type { Database } from '../db/database.js';
import type { CommandSpec } from './command.js';
import { plural, uuidOption } from './options.js';

export interface SelectorOptions {
  id?: string[];
  class?: string;
  course?: string;
  errorContains?: string;
  all?: boolean;
  dryRun?: boolean;
}

export const selectorHelp = '--id <n>..., --class <uuid>, --course <uuid>, --error-contains <text>, or --all';

export function addSelectorOptions(cmd: Command, verb: string): void {
  cmd
    .option('--id <n...>', `${verb} these failed rows (queue row ids, as \`failed\` lists them)`)
    .option('--class <uuid>', `${verb} the failed rows of this class`)
    .option('--course <uuid>', `${verb} the failed rows of this course`)
    .option('--error-contains <text>', `${verb} the failed rows whose last error contains this text (ignoring case)`)
    .option('--all', `${verb} every failed row (alone)`)
    .option('--dry-run', 'count the rows it would change, and change nothing');
}

/** The selector the flags give; exit 2 naming the flags when none (or a bad one) is given. */
export function selectorFrom(opts: SelectorOptions): FailedSelector {
  // An id given twice is one row (and is said once).
  const ids = opts.id && [
    ...new Set(
      opts.id.map((raw) => {
        if (!/^[1-9]\d*$/.test(raw)) throw new UsageError(`--id must be a queue row id (a positive whole number); got ${shown(raw)}`);
        if (!Number.isSafeInteger(Number(raw))) throw new UsageError(`--id must be a queue row id, at most ${Number.MAX_SAFE_INTEGER}; got ${shown(raw)}`);
        return Number(raw);
      }),
    ),
  ];
  if (opts.errorContains === '') throw new UsageError('--error-contains needs the text to look for');
  const selector: FailedSelector = {
    ids,
    classId: uuidOption(opts.class, '--class'),
    courseId: uuidOption(opts.course, '--course'),
    errorContains: opts.errorContains,
    all: opts.all === true,
  };
  const given = [ids !== undefined, selector.classId !== undefined, selector.courseId !== undefined, selector.errorContains !== undefined];
  if (selector.all && given.some(Boolean)) throw new UsageError('--all selects every failed row: give it alone, or narrow with the other selectors instead');
  if (!selector.all && !given.some(Boolean)) throw new UsageError(`say which failed rows: ${selectorHelp} (several narrow together)`);
  return selector;
}

/** The selector in words, for the human output. */
export function describeSelector(s: FailedSelector): string {
  if (s.all) return 'every failed row';
  const parts: string[] = [];
  if (s.ids) parts.push(`id ${s.ids.map((id) => `#${id}`).join(', ')}`);
  if (s.classId) parts.push(`class ${s.classId}`);
  if (s.courseId) parts.push(`course ${s.courseId}`);
  if (s.errorContains !== undefined) parts.push(`error containing ${JSON.stringify(s.errorContains)}`);
  return `failed rows with ${parts.join(' and ')}`;
}

/**
 * A command that changes the selected failed rows (retry-failed, discard-failed): the
 * selector flags, --dry-run, the count in `--json` under `key`, and the ids that matched
 * nothing said in words.
 */
export function failedRowsCommand(spec: {
  name: string;
  summary: string;
  description: string;
  /** The verb in the flags' help ("retry"). */
  verb: string;
  /** The `--json` key of the count ("retried"). */
  key: string;
  /** What was done, after the count ("retried 3 rows (…)"). */
  done: string;
  change: (db: Database, selector: FailedSelector, options: { dryRun: boolean }) => Promise<number>;
}): CommandSpec<SelectorOptions> {
  return {
    name: spec.name,
    summary: spec.summary,
    description: `${spec.description} Select with ${selectorHelp} (one is required; several narrow together). Queued rows and rows in flight are never touched. --dry-run counts without changing anything. --json: {"${spec.key}":n}.`,
    settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
    configure: (cmd) => addSelectorOptions(cmd, spec.verb),
    async run({ runtime }, opts) {
      const selector = selectorFrom(opts);
      const dryRun = opts.dryRun === true;
      const count = await spec.change(await runtime.db(), selector, { dryRun });
      const lines = [
        dryRun
          ? `would ${spec.verb} ${plural(count, 'row')} (${describeSelector(selector)}); dry run: nothing changed`
          : `${spec.key} ${plural(count, 'row')} (${describeSelector(selector)})${spec.done}`,
      ];
      const given = selector.ids ? new Set(selector.ids).size : 0;
      if (count < given) lines.push(`${plural(given - count, 'given id')} matched no failed row (queued, in flight, gone, or outside the other selectors): left alone`);
      return { result: { [spec.key]: count }, human: lines.join('\n') };
    },
  };
}
