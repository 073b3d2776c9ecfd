/**
 * Reads of the reference tables other systems own (classes, courses, memberships), in
 * sets: one query for many ids, chunked to the dialect's parameter limit.
 */
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toBool, toNumber, toUuid } from '../db/values.js';

export interface ClassFacts {
  id: string;
  courseId: string | null;
  creatorId: string;
  rescope: boolean;
  isDeleted: boolean;
  isArchived: boolean;
}

export interface CourseFacts {
  id: string;
  version: string | null;
  isDeleted: boolean;
}

export async function loadClasses(db: Database, ids: readonly string[]): Promise<Map<string, ClassFacts>> {
  const found = new Map<string, ClassFacts>();
  for (const chunk of listChunks(db.dialect, [...new Set(ids)])) {
    const rows: Array<Record<string, unknown>> = await whereInList(
      db.knex('class').select('id', 'course_id', 'creator_id', 'rescope', 'is_deleted', 'is_archived'),
      db.dialect,
      'id',
      chunk,
      'uuid',
    );
    for (const r of rows) {
      const id = toUuid(r.id);
      found.set(id, {
        id,
        courseId: r.course_id === null ? null : toUuid(r.course_id),
        creatorId: toUuid(r.creator_id),
        rescope: toBool(r.rescope),
        isDeleted: toBool(r.is_deleted),
        isArchived: toBool(r.is_archived),
      });
    }
  }
  return found;
}

export async function loadCourses(db: Database, ids: readonly string[]): Promise<Map<string, CourseFacts>> {
  const found = new Map<string, CourseFacts>();
  for (const chunk of listChunks(db.dialect, [...new Set(ids)])) {
    const rows: Array<Record<string, unknown>> = await whereInList(db.knex('course').select('id', 'version', 'is_deleted'), db.dialect, 'id', chunk, 'uuid');
    for (const r of rows) {
      const id = toUuid(r.id);
      found.set(id, { id, version: r.version === null ? null : String(r.version), isDeleted: toBool(r.is_deleted) });
    }
  }
  return found;
}

/** Which of `userIds` are active members of the class. */
export async function activeMembersAmong(db: Database, classId: string, userIds: readonly string[]): Promise<Set<string>> {
  const active = new Set<string>();
  for (const chunk of listChunks(db.dialect, userIds)) {
    const rows: Array<{ user_id: unknown }> = await whereInList(
      db.knex('class_member').select('user_id').where({ class_id: classId, is_active: true }),
      db.dialect,
      'user_id',
      chunk,
      'uuid',
    );
    for (const r of rows) active.add(toUuid(r.user_id));
  }
  return active;
}

/** The class's active members (learners). */
export async function activeMemberIds(db: Database, classId: string): Promise<string[]> {
  const rows: Array<{ user_id: unknown }> = await db.knex('class_member').select('user_id').where({ class_id: classId, is_active: true });
  return rows.map((r) => toUuid(r.user_id));
}

export async function countActiveMembers(db: Database, classId: string): Promise<number> {
  const [row] = await db.knex('class_member').where({ class_id: classId, is_active: true }).count({ n: '*' });
  return toNumber(row?.n ?? 0);
}

/** Whether `userId` is an active member (learner) of the class. */
export async function isActiveMember(db: Database, classId: string, userId: string): Promise<boolean> {
  return (await activeMembersAmong(db, classId, [userId])).has(userId);
}

/** Whether `userId` is a collaborator (co-teacher) of the class. */
export async function isCollaborator(db: Database, classId: string, userId: string): Promise<boolean> {
  const row = await db.knex('class_collaborator').first('user_id').where({ class_id: classId, user_id: userId });
  return row !== undefined;
}
