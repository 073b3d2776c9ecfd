/** The stored results: `rescoped_content`, one row per (user, course, class-or-none). */
import type { Database } from '../db/database.js';
import { toNumber } from '../db/values.js';

export const contentTable = 'rescoped_content';

export async function countRescopedContent(db: Database): Promise<number> {
  const [row] = await db.knex(contentTable).count({ n: '*' });
  return toNumber(row?.n ?? 0);
}
