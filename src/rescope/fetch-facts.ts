/**
 * Everything the Fetch path needs to answer, in ONE statement: the class (or, in
 * independent learning, the course), whether the learner is an active member, whether the
 * caller is a co-teacher, and the stored content. A fetch is the hot path of the HTTP
 * front: one round trip instead of four halves its database time, and the database
 * answers the whole statement from primary keys and the content table's unique index.
 *
 * The content is read whatever the decision; `decideAccess` (pure, unchanged) decides
 * from the facts whether it may be shown.
 */
import type { Knex } from 'knex';
import type { Database } from '../db/database.js';
import { execute } from '../db/execute.js';
import { toBool, toUuid } from '../db/values.js';
import type { AccessFacts } from './access-rule.js';
import { contentTable } from './content-table.js';

export interface FetchKey {
  callerId: string;
  targetId: string;
  courseId: string;
  classId: string | null;
}

export interface FetchFacts {
  facts: AccessFacts;
  /** The stored document exactly as stored, or null. */
  content: string | null;
}

interface FetchStatements {
  inClass: string;
  independent: string;
}

const statements = new WeakMap<Knex, FetchStatements>();

/**
 * The two statements, written once per database (identifiers quoted the dialect's way).
 * Booleans are compared with literals, not bindings, so every driver gets the same SQL.
 */
export function fetchStatements(db: Database): FetchStatements {
  const known = statements.get(db.knex);
  if (known) return known;
  const q = (identifier: string) => db.knex.raw('??', [identifier]).toQuery();
  const yes = db.dialect.booleanLiteral(true);
  const content = (classCondition: string) =>
    `(SELECT ${q('r.skipped_content')} FROM ${q(contentTable)} ${q('r')} WHERE ${q('r.user_id')} = ? AND ${q('r.course_id')} = ? AND ${classCondition})`;
  const inClass =
    `SELECT ${q('k.course_id')}, ${q('k.creator_id')}, ${q('k.rescope')}, ${q('k.is_deleted')}, ${q('k.is_archived')}, ` +
    `CASE WHEN EXISTS (SELECT 1 FROM ${q('class_member')} ${q('m')} WHERE ${q('m.class_id')} = ${q('k.id')} AND ${q('m.user_id')} = ? AND ${q('m.is_active')} = ${yes}) THEN 1 ELSE 0 END AS ${q('target_is_member')}, ` +
    `CASE WHEN EXISTS (SELECT 1 FROM ${q('class_collaborator')} ${q('c')} WHERE ${q('c.class_id')} = ${q('k.id')} AND ${q('c.user_id')} = ?) THEN 1 ELSE 0 END AS ${q('caller_is_collaborator')}, ` +
    // The content's class by the requested (lower-case) id, not by k.id: a reference table
    // may hold the class id in upper case, and our own table holds it lower-case.
    `${content(`${q('r.class_id')} = ?`)} AS ${q('content')} ` +
    `FROM ${q('class')} ${q('k')} WHERE ${q('k.id')} = ?`;
  const independent =
    `SELECT ${q('co.version')}, ${q('co.is_deleted')}, ${content(`${q('r.class_id')} IS NULL`)} AS ${q('content')} ` +
    `FROM ${q('course')} ${q('co')} WHERE ${q('co.id')} = ?`;
  const built = { inClass, independent };
  statements.set(db.knex, built);
  return built;
}

async function rowsOf(db: Database, sql: string, bindings: readonly unknown[]): Promise<Array<Record<string, unknown>>> {
  if (db.dialect.readRows) return db.dialect.readRows(db.knex, sql, bindings);
  return (await execute<Record<string, unknown>>(db.knex, db.dialect, { sql, bindings })).rows;
}

/** The access facts and the stored content of one fetch, in one statement. */
export async function readFetchFacts(db: Database, key: FetchKey): Promise<FetchFacts> {
  const sql = fetchStatements(db);
  const base = { callerId: key.callerId, targetId: key.targetId, courseId: key.courseId, classId: key.classId, course: null, klass: null, targetIsActiveMember: false, callerIsCollaborator: false };
  if (key.classId === null) {
    const rows = await rowsOf(db, sql.independent, [key.targetId, key.courseId, key.courseId]);
    const row = rows[0];
    if (!row) return { facts: base, content: null };
    const course = { id: key.courseId, version: row.version === null ? null : String(row.version), isDeleted: toBool(row.is_deleted) };
    return { facts: { ...base, course }, content: contentText(row.content) };
  }
  const rows = await rowsOf(db, sql.inClass, [key.targetId, key.callerId, key.targetId, key.courseId, key.classId, key.classId]);
  const row = rows[0];
  if (!row) return { facts: base, content: null };
  const klass = {
    id: key.classId,
    courseId: row.course_id === null ? null : toUuid(row.course_id),
    creatorId: toUuid(row.creator_id),
    rescope: toBool(row.rescope),
    isDeleted: toBool(row.is_deleted),
    isArchived: toBool(row.is_archived),
  };
  const facts = { ...base, klass, targetIsActiveMember: toBool(row.target_is_member), callerIsCollaborator: toBool(row.caller_is_collaborator) };
  return { facts, content: contentText(row.content) };
}

function contentText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new Error('stored content came back parsed; the driver must return JSON columns as text');
  return value;
}
