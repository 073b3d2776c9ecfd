/**
 * The competencies each learner of a batch has completed or mastered, restricted to those
 * the batch's courses use, grouped by the database into one row per learner. Reading
 * every status row into JavaScript would be the slow part; this returns one row per
 * learner with the codes as one text (any code, the empty one included, comes back as it
 * is stored), and the skip rule does the rest in memory.
 */
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toUuid } from '../db/values.js';

export const achievedStatuses = ['completed', 'mastered'] as const;

export async function achievedCompetencies(
  db: Database,
  userIds: readonly string[],
  courseIds: readonly string[],
  courseCodes?: ReadonlySet<string>,
): Promise<Map<string, string[]>> {
  const { knex, dialect } = db;
  const achieved = new Map<string, string[]>();
  const users = [...new Set(userIds)];
  const courses = [...new Set(courseIds)];
  if (users.length === 0 || courses.length === 0) return achieved;
  if (courseCodes && courseCodes.size === 0) return achieved;

  // Codes the batch's courses use: statuses for other competencies are not read out.
  // Where lists bind as one array and the caller knows the codes (from the course
  // structures it loaded), they are bound as that array: the index scan then filters
  // each status itself (a hashed array lookup) and the rows stay in index order, so they
  // are grouped as they stream. The subquery's join instead needs the groups hashed,
  // which PostgreSQL plans to spill to disk for a batch: twice the database CPU, measured.
  const codeArray = courseCodes && dialect.listConditionSql ? [...courseCodes] : undefined;
  const courseCodesQuery = () =>
    whereInList(
      knex('course_item_competency as cic').join('course_item as ci', 'ci.id', 'cic.item_id').select('cic.competency_code'),
      dialect,
      'ci.course_id',
      courses,
      'uuid',
    ).where('ci.is_deleted', false);

  // The codes a group can hold are among those bound, so when none of them holds a line
  // feed the database can join them with line feeds: no JSON to escape, build and parse
  // (about an eighth of the query's database time, measured). Otherwise a JSON array.
  const asLines = codeArray !== undefined && dialect.textLinesSql !== undefined && !codeArray.some((c) => c.includes('\n'));
  const aggregate = asLines ? dialect.textLinesSql!('??') : dialect.textJsonArraySql('??');
  const parse = asLines ? (value: unknown) => String(value).split('\n') : codeList;

  for (const chunk of listChunks(dialect, users, codeArray ? 16 : courses.length + 16)) {
    const query = knex('user_competency_status as s')
      .select('s.user_id', knex.raw(`${aggregate} AS ??`, ['s.competency_code', 'codes']))
      .whereIn('s.status', achievedStatuses)
      .groupBy('s.user_id');
    if (codeArray) whereInList(query, dialect, 's.competency_code', codeArray, 'text');
    else query.whereIn('s.competency_code', courseCodesQuery());
    const rows: Array<{ user_id: unknown; codes: unknown }> = await whereInList(query, dialect, 's.user_id', chunk, 'uuid');
    for (const r of rows) achieved.set(toUuid(r.user_id), parse(r.codes));
  }
  return achieved;
}

/** The aggregate's JSON array text as a list of codes; anything else is a bug worth failing on. */
function codeList(value: unknown): string[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!Array.isArray(parsed) || !parsed.every((c) => typeof c === 'string')) {
    throw new TypeError(`the database returned competency codes that are not a JSON array of strings: ${String(value).slice(0, 80)}`);
  }
  return parsed;
}

/**
 * One learner's completed or mastered competencies among those `courseId` uses, with the
 * status of each (for an explanation; process reads a batch with achievedCompetencies).
 */
export async function competencyStatuses(db: Database, userId: string, courseId: string): Promise<Map<string, (typeof achievedStatuses)[number]>> {
  const { knex } = db;
  const rows: Array<{ competency_code: unknown; status: unknown }> = await knex('user_competency_status as s')
    .select('s.competency_code', 's.status')
    .where('s.user_id', userId)
    .whereIn('s.status', achievedStatuses)
    .whereIn(
      's.competency_code',
      knex('course_item_competency as cic').join('course_item as ci', 'ci.id', 'cic.item_id').select('cic.competency_code').where({ 'ci.course_id': courseId, 'ci.is_deleted': false }),
    );
  return new Map(rows.map((r) => [String(r.competency_code), String(r.status) as (typeof achievedStatuses)[number]]));
}
