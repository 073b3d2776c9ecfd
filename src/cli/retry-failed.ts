import type { CommandSpec } from './command.js';
import { type SelectorOptions, addSelectorOptions, describeSelector, selectorFrom, selectorHelp } from './failed-selectors.js';
import { plural } from './options.js';

export const retryFailedCommand: CommandSpec<SelectorOptions> = {
  name: 'retry-failed',
  summary: 'queue failed rows again: attempts reset, due now',
  description:
    `Moves the selected failed rows back to queued, with their attempts reset and due at once; the next dispatch and ` +
    `process take them. Select with ${selectorHelp} (one is required; several narrow together). Queued rows and rows ` +
    'in flight are never touched. --dry-run counts without changing anything. --json: {"retried":n}.',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  configure: (cmd) => addSelectorOptions(cmd, 'retry'),
  async run({ runtime }, opts) {
    const selector = selectorFrom(opts);
    const { retryFailed } = await import('../rescope/queue-table.js');
    const dryRun = opts.dryRun === true;
    const retried = await retryFailed(await runtime.db(), selector, { dryRun });
    const lines = [
      dryRun
        ? `would retry ${plural(retried, 'row')} (${describeSelector(selector)}); dry run: nothing changed`
        : `retried ${plural(retried, 'row')} (${describeSelector(selector)}): queued again, attempts reset, due now`,
    ];
    if (selector.ids && retried < new Set(selector.ids).size) {
      lines.push(`${plural(new Set(selector.ids).size - retried, 'given id')} matched no failed row (queued, in flight, gone, or outside the other selectors): left alone`);
    }
    return { result: { retried }, human: lines.join('\n') };
  },
};
