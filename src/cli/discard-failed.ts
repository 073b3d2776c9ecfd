import { failedRowsCommand } from './failed-selectors.js';

export const discardFailedCommand = failedRowsCommand({
  name: 'discard-failed',
  summary: 'delete failed rows',
  description: 'Deletes the selected failed rows (their learners keep whatever content they have; a new request queues them again).',
  verb: 'discard',
  key: 'discarded',
  done: '',
  change: async (db, selector, options) => (await import('../rescope/queue-table.js')).discardFailed(db, selector, options),
});
