/** `status`: how the queue and its results stand, for an operator or an alert. */
import type { Database } from '../db/database.js';
import { assertMigrated } from '../db/migrate.js';
import { countRescopedContent } from '../rescope/content-table.js';
import { type QueueCounts, queueCounts } from '../rescope/queue-table.js';

export interface SystemStatus {
  database: string;
  queue: Omit<QueueCounts, 'oldestQueuedAgeSeconds'>;
  oldestQueuedAgeSeconds: number | null;
  rescopedContent: number;
}

export async function getStatus(db: Database): Promise<SystemStatus> {
  await assertMigrated(db);
  const [{ oldestQueuedAgeSeconds, ...queue }, rescopedContent] = await Promise.all([queueCounts(db), countRescopedContent(db)]);
  return { database: db.display, queue, oldestQueuedAgeSeconds, rescopedContent };
}
