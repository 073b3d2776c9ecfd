import type { Migration } from './migration.js';
import { ddl } from './migration.js';

/**
 * `override` on a queue row: the request asked to recompute the learner's content even
 * though it is stored already (their competencies changed since), so `process` replaces
 * the stored content instead of deleting the row as done. Kept on the row because the
 * intent must survive from enqueue to whichever worker takes the row. Not in any index:
 * dispatch and process never search by it.
 */
export const queueOverride: Migration = {
  name: '0004_queue_override',
  group: 'owned',
  description: 'rescope_queue.override',
  statements: (k) => [
    ...ddl(
      k.schema.alterTable('rescope_queue', (t) => {
        t.boolean('override').notNullable().defaultTo(false);
      }),
    ),
  ],
};
