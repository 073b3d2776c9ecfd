/**
 * The competencies each learner of a batch has completed or mastered, restricted to those
 * the batch's courses use, grouped by the database into one row per learner. Reading
 * every status row into JavaScript would be the slow part; this returns one row per
 * learner with the codes joined, and the skip rule does the rest in memory.
 */
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toUuid } from '../db/values.js';

export const achievedStatuses = ['completed', 'mastered'] as const;

/** Joins the codes of a group; a control character no competency code contains. */
const separator = '\u001f';

export async function achievedCompetencies(
  db: Database,
  userIds: readonly string[],
  courseIds: readonly string[],
): Promise<Map<string, string[]>> {
  const { knex, dialect } = db;
  const achieved = new Map<string, string[]>();
  const users = [...new Set(userIds)];
  const courses = [...new Set(courseIds)];
  if (users.length === 0 || courses.length === 0) return achieved;

  // Codes the batch's courses use: statuses for other competencies are not read out.
  const courseCodes = whereInList(
    knex('course_item_competency as cic').join('course_item as ci', 'ci.id', 'cic.item_id').select('cic.competency_code'),
    dialect,
    'ci.course_id',
    courses,
    'uuid',
  ).where('ci.is_deleted', false);

  for (const chunk of listChunks(dialect, users, courses.length + 16)) {
    const query = knex('user_competency_status as s')
      .select('s.user_id', knex.raw(`${dialect.stringAggSql('??')} AS ??`, ['s.competency_code', 'codes']))
      .whereIn('s.status', achievedStatuses)
      .whereIn('s.competency_code', courseCodes)
      .groupBy('s.user_id');
    const rows: Array<{ user_id: unknown; codes: unknown }> = await whereInList(query, dialect, 's.user_id', chunk, 'uuid');
    for (const r of rows) {
      const codes = String(r.codes ?? '');
      if (codes !== '') achieved.set(toUuid(r.user_id), codes.split(separator));
    }
  }
  return achieved;
}
