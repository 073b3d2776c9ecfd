import { getStatus } from '../src/status/status.js';
import { eachDialect, migratedDatabase } from './helpers/databases.js';

eachDialect('status counts queue rows by state and ages the oldest queued row', async (t, dialect) => {
  const { db } = await migratedDatabase(t, dialect);
  const course = '22222222-2222-4222-8222-222222222222';
  const user = (i: number) => `11111111-1111-4111-8111-${String(i).padStart(12, '0')}`;
  const now = new Date();
  const rows: Array<[number, string | null, Date]> = [
    [1, null, new Date(now.getTime() - 3600_000)],
    [2, null, now],
    [3, 'dispatched', now],
    [4, 'processing', now],
    [5, 'failed', new Date(0)],
    [6, 'failed', now],
  ];
  await db.knex('rescope_queue').insert(
    rows.map(([i, status, created]) => ({ user_id: user(i), course_id: course, source: 'oob', priority: 1, status, created_at: created })),
  );
  await db.knex('rescoped_content').insert({ user_id: user(7), course_id: course, skipped_content: '{}' });
  const status = await getStatus(db);
  t.deepEqual(status.queue, { queued: 2, dispatched: 1, processing: 1, failed: 2 });
  t.is(status.rescopedContent, 1);
  t.true(status.oldestQueuedAgeSeconds !== null && Math.abs(status.oldestQueuedAgeSeconds - 3600) < 60, String(status.oldestQueuedAgeSeconds));
});

eachDialect('status on an empty queue has no oldest age', async (t, dialect) => {
  const { db } = await migratedDatabase(t, dialect);
  const status = await getStatus(db);
  t.deepEqual(status.queue, { queued: 0, dispatched: 0, processing: 0, failed: 0 });
  t.is(status.oldestQueuedAgeSeconds, null);
  t.is(status.rescopedContent, 0);
});
