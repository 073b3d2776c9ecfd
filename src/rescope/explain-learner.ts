/**
 * A learner's explanation from the database: the course structure process would load,
 * the learner's competency statuses now, and the pure explanation over them. Call it
 * only after the access rule allowed the caller to read this learner (rescope-show does).
 */
import type { Database } from '../db/database.js';
import { competencyStatuses } from './achieved-competencies.js';
import type { Learner } from './content-table.js';
import { CourseStructureCache } from './course-structure.js';
import { type Explanation, explainSkips } from './explain.js';

export async function explainLearner(db: Database, learner: Learner): Promise<Explanation> {
  const [structures, statuses] = await Promise.all([new CourseStructureCache(db).get([learner.courseId]), competencyStatuses(db, learner.userId, learner.courseId)]);
  return explainSkips(structures.get(learner.courseId)!, statuses);
}
