/** The stored results: `rescoped_content`, one row per (user, course, class-or-none). */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import type { Dialect } from '../db/dialect.js';
import type { Statement } from '../db/execute.js';
import { insertRows, insertRowsStatements, listChunks, upsertRows, upsertRowsStatements, whereInList } from '../db/lists.js';
import { toNumber, toUuid } from '../db/values.js';

export const contentTable = 'rescoped_content';

export interface NewContent {
  userId: string;
  courseId: string;
  classId: string | null;
  /** The JSON document, already serialised. */
  json: string;
}

export async function countRescopedContent(db: Database): Promise<number> {
  const [row] = await db.knex(contentTable).count({ n: '*' });
  return toNumber(row?.n ?? 0);
}

const contentColumns = [
  ['user_id', 'uuid'],
  ['course_id', 'uuid'],
  ['class_id', 'uuid'],
  ['skipped_content', 'json'],
] as const;

const contentValues = (r: NewContent) => [r.userId, r.courseId, r.classId, r.json];

/**
 * Stores content rows. With ignoreDuplicates, learners who already have content for that
 * course and class (another worker got there first) are skipped; without, they fail the
 * statement. Returns how many rows were inserted.
 */
export async function insertContent(k: Knex, dialect: Dialect, rows: readonly NewContent[], options: { ignoreDuplicates: boolean }): Promise<number> {
  return insertRows(k, dialect, contentTable, contentColumns, rows.map(contentValues), options);
}

/** insertContent as statements, to run together with others. */
export function insertContentStatements(k: Knex, dialect: Dialect, rows: readonly NewContent[], options: { ignoreDuplicates: boolean }): Statement[] {
  return insertRowsStatements(k, dialect, contentTable, contentColumns, rows.map(contentValues), options);
}

/**
 * Stores content rows, replacing in place the content of learners who have some already
 * (an override: their competencies changed since). One statement per chunk, an upsert on
 * the learner's unique index: a reader finds the old content or the new, never none, as
 * the original service's delete-then-insert allowed. `created_at` becomes the time this
 * content was computed. Returns how many rows were stored (inserted or replaced).
 */
export async function replaceContent(k: Knex, dialect: Dialect, rows: readonly NewContent[]): Promise<number> {
  return upsertRows(k, dialect, contentTable, contentColumns, contentKey, contentReplaced, rows.map(contentValues));
}

/** replaceContent as statements, to run together with others. */
export function replaceContentStatements(dialect: Dialect, rows: readonly NewContent[]): Statement[] {
  return upsertRowsStatements(dialect, contentTable, contentColumns, contentKey, contentReplaced, rows.map(contentValues));
}

const contentKey = { columns: ['user_id', 'course_id'], nullable: 'class_id' };
const contentReplaced = { replaced: ['skipped_content'], stamped: ['created_at'] };

export interface Learner {
  userId: string;
  courseId: string;
  classId: string | null;
}

export function learnerKey(l: Learner): string {
  return `${l.userId}|${l.courseId}|${l.classId ?? ''}`;
}

/**
 * Which of `learners` already have content (keys from learnerKey). One lookup by user id
 * for the whole set, not a check per row: a per-row check against this fast-growing
 * table is what a planner with stale statistics turns into a scan per row.
 */
export async function learnersWithContent(db: Database, learners: readonly Learner[]): Promise<Set<string>> {
  const { knex, dialect } = db;
  const found = new Set<string>();
  const users = [...new Set(learners.map((l) => l.userId))];
  for (const chunk of listChunks(dialect, users)) {
    const rows: Array<Record<string, unknown>> = await whereInList(knex(contentTable).select('user_id', 'course_id', 'class_id'), dialect, 'user_id', chunk, 'uuid');
    for (const r of rows) {
      found.add(learnerKey({ userId: toUuid(r.user_id), courseId: toUuid(r.course_id), classId: r.class_id === null ? null : toUuid(r.class_id) }));
    }
  }
  return found;
}

/** The stored document for one learner, course and class, exactly as stored, or null. */
export async function readContent(db: Database, learner: Learner): Promise<string | null> {
  const query = db.knex(contentTable).first('skipped_content').where({ user_id: learner.userId, course_id: learner.courseId });
  if (learner.classId === null) query.whereNull('class_id');
  else query.where('class_id', learner.classId);
  const row = (await query) as { skipped_content: unknown } | undefined;
  if (!row) return null;
  if (typeof row.skipped_content !== 'string') throw new Error('stored content came back parsed; the driver must return JSON columns as text');
  return row.skipped_content;
}
