/**
 * Course structures, loaded once per course per run: one query for all the courses of a
 * batch that are not cached yet.
 */
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toNumber, toUuid } from '../db/values.js';
import { type CourseItem, type CourseStructure, buildCourseStructure } from './skip-rule.js';

export class CourseStructureCache {
  private readonly cache = new Map<string, Promise<CourseStructure>>();

  constructor(private readonly db: Database) {}

  /** Structures for `courseIds`; a course with no live items has an empty structure. */
  async get(courseIds: readonly string[]): Promise<Map<string, CourseStructure>> {
    const missing = [...new Set(courseIds)].filter((id) => !this.cache.has(id));
    if (missing.length > 0) {
      const loading = loadStructures(this.db, missing);
      for (const id of missing) {
        const structure = loading.then((all) => all.get(id) ?? buildCourseStructure(id, []));
        this.cache.set(id, structure);
        // A failed load is not cached: the next batch tries again.
        structure.catch(() => this.cache.delete(id));
      }
    }
    const result = new Map<string, CourseStructure>();
    for (const id of new Set(courseIds)) result.set(id, await this.cache.get(id)!);
    return result;
  }
}

async function loadStructures(db: Database, courseIds: readonly string[]): Promise<Map<string, CourseStructure>> {
  const items = new Map<string, CourseItem & { courseId: string; competencies: string[] }>();
  for (const chunk of listChunks(db.dialect, courseIds)) {
    const query = db.knex('course_item as ci')
      .leftJoin('course_item_competency as cic', 'cic.item_id', 'ci.id')
      .select('ci.id', 'ci.course_id', 'ci.unit_id', 'ci.lesson_id', 'ci.format', 'ci.sequence', 'cic.competency_code')
      .where('ci.is_deleted', false);
    const rows: Array<Record<string, unknown>> = await whereInList(query, db.dialect, 'ci.course_id', chunk, 'uuid');
    for (const r of rows) {
      const id = toUuid(r.id);
      let item = items.get(id);
      if (!item) {
        item = {
          id,
          courseId: toUuid(r.course_id),
          unitId: toUuid(r.unit_id),
          lessonId: toUuid(r.lesson_id),
          format: String(r.format),
          sequence: toNumber(r.sequence),
          competencies: [],
        };
        items.set(id, item);
      }
      if (r.competency_code !== null && r.competency_code !== undefined) item.competencies.push(String(r.competency_code));
    }
  }
  const byCourse = new Map<string, CourseItem[]>();
  for (const item of items.values()) {
    let list = byCourse.get(item.courseId);
    if (!list) byCourse.set(item.courseId, (list = []));
    list.push(item);
  }
  return new Map([...byCourse].map(([courseId, list]) => [courseId, buildCourseStructure(courseId, list)]));
}
