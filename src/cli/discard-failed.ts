import type { CommandSpec } from './command.js';
import { type SelectorOptions, addSelectorOptions, describeSelector, selectorFrom, selectorHelp } from './failed-selectors.js';
import { plural } from './options.js';

export const discardFailedCommand: CommandSpec<SelectorOptions> = {
  name: 'discard-failed',
  summary: 'delete failed rows',
  description:
    `Deletes the selected failed rows (their learners keep whatever content they have; a new request queues them ` +
    `again). Select with ${selectorHelp} (one is required; several narrow together). Queued rows and rows in flight ` +
    'are never touched. --dry-run counts without changing anything. --json: {"discarded":n}.',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  configure: (cmd) => addSelectorOptions(cmd, 'discard'),
  async run({ runtime }, opts) {
    const selector = selectorFrom(opts);
    const { discardFailed } = await import('../rescope/queue-table.js');
    const dryRun = opts.dryRun === true;
    const discarded = await discardFailed(await runtime.db(), selector, { dryRun });
    const lines = [
      dryRun
        ? `would discard ${plural(discarded, 'row')} (${describeSelector(selector)}); dry run: nothing changed`
        : `discarded ${plural(discarded, 'row')} (${describeSelector(selector)})`,
    ];
    if (selector.ids && discarded < new Set(selector.ids).size) {
      lines.push(`${plural(new Set(selector.ids).size - discarded, 'given id')} matched no failed row (queued, in flight, gone, or outside the other selectors): left alone`);
    }
    return { result: { discarded }, human: lines.join('\n') };
  },
};
