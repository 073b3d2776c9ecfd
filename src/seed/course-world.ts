/**
 * Builders for the rescope reference tables (courses, classes, members, competency
 * statuses), used by the demo, the tests and the benchmarks. They write through the same
 * tables the jobs read; nothing here is read by the jobs themselves.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { insertInChunks } from '../db/bulk-insert.js';

export interface ItemSpec {
  format?: string;
  competencies?: string[];
  deleted?: boolean;
}

export interface CourseSpec {
  version?: string | null;
  deleted?: boolean;
  title?: string;
  /** units → lessons → items */
  units: ItemSpec[][][];
}

export interface SeededCourse {
  id: string;
  /** Ids in the same nesting as the spec. */
  units: Array<{ id: string; lessons: Array<{ id: string; items: string[] }> }>;
}

export async function seedCourse(db: Database, spec: CourseSpec): Promise<SeededCourse> {
  const course: SeededCourse = { id: randomUUID(), units: [] };
  await db.knex('course').insert({ id: course.id, title: spec.title ?? 'Course', version: spec.version === undefined ? 'v1' : spec.version, is_deleted: spec.deleted ?? false });
  const items: Array<Record<string, unknown>> = [];
  const competencies: Array<Record<string, unknown>> = [];
  let sequence = 0;
  for (const unitSpec of spec.units) {
    const unit = { id: randomUUID(), lessons: [] as Array<{ id: string; items: string[] }> };
    course.units.push(unit);
    for (const lessonSpec of unitSpec) {
      const lesson = { id: randomUUID(), items: [] as string[] };
      unit.lessons.push(lesson);
      for (const itemSpec of lessonSpec) {
        const id = randomUUID();
        lesson.items.push(id);
        items.push({ id, course_id: course.id, unit_id: unit.id, lesson_id: lesson.id, format: itemSpec.format ?? 'assessment', sequence: sequence++, is_deleted: itemSpec.deleted ?? false });
        for (const code of itemSpec.competencies ?? []) competencies.push({ item_id: id, competency_code: code });
      }
    }
  }
  await insertInChunks(db.knex, db.dialect, 'course_item', items);
  await insertInChunks(db.knex, db.dialect, 'course_item_competency', competencies);
  return course;
}

export interface ClassSpec {
  courseId: string | null;
  rescope?: boolean;
  deleted?: boolean;
  archived?: boolean;
  creatorId?: string;
  collaborators?: string[];
  /** Active members. */
  members?: string[];
  inactiveMembers?: string[];
}

export async function seedClass(db: Database, spec: ClassSpec): Promise<{ id: string; creatorId: string }> {
  const id = randomUUID();
  const creatorId = spec.creatorId ?? randomUUID();
  await db.knex('class').insert({
    id,
    course_id: spec.courseId,
    creator_id: creatorId,
    rescope: spec.rescope ?? true,
    is_deleted: spec.deleted ?? false,
    is_archived: spec.archived ?? false,
  });
  await insertInChunks(db.knex, db.dialect, 'class_collaborator', (spec.collaborators ?? []).map((user_id) => ({ class_id: id, user_id })));
  await insertInChunks(db.knex, db.dialect, 'class_member', [
    ...(spec.members ?? []).map((user_id) => ({ class_id: id, user_id, is_active: true })),
    ...(spec.inactiveMembers ?? []).map((user_id) => ({ class_id: id, user_id, is_active: false })),
  ]);
  return { id, creatorId };
}

/** Records competency statuses: `{ userId: { code: 'completed' | 'mastered' | other } }`. */
export async function seedCompetencies(db: Database, statuses: Record<string, Record<string, string>>): Promise<void> {
  const rows = Object.entries(statuses).flatMap(([user_id, codes]) => Object.entries(codes).map(([competency_code, status]) => ({ user_id, competency_code, status })));
  await insertInChunks(db.knex, db.dialect, 'user_competency_status', rows);
}

export function learners(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}
