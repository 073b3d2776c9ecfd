import type { CommandSpec } from './command.js';
import { formatCount, formatDuration, table } from './format.js';

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'queue rows by state, age of the oldest queued row, rescoped content count',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  async run({ runtime }) {
    const { getStatus } = await import('../status/status.js');
    const status = await getStatus(await runtime.db());
    const { queue } = status;
    const age = status.oldestQueuedAgeSeconds;
    const human = [
      `rescope queue in ${status.database}`,
      table([
        ['queued', `${formatCount(queue.queued)}${age === null ? '' : `  (oldest ${formatDuration(age)})`}`],
        ['dispatched', formatCount(queue.dispatched)],
        ['processing', formatCount(queue.processing)],
        ['failed', formatCount(queue.failed)],
      ]),
      `rescoped content: ${formatCount(status.rescopedContent)}`,
    ].join('\n');
    return { result: { ...status }, human };
  },
};
