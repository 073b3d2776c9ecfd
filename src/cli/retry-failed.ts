import { failedRowsCommand } from './failed-selectors.js';

export const retryFailedCommand = failedRowsCommand({
  name: 'retry-failed',
  summary: 'queue failed rows again: attempts reset, due now',
  description: 'Moves the selected failed rows back to queued, with their attempts reset and due at once; the next dispatch and process take them.',
  verb: 'retry',
  key: 'retried',
  done: ': queued again, attempts reset, due now',
  change: async (db, selector, options) => (await import('../rescope/queue-table.js')).retryFailed(db, selector, options),
});
