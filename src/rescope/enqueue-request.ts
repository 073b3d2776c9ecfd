/**
 * One rescope request, as the original "Do Rescope API" took it
 * (`{"source","classId","courseId","memberIds"}`, and the later `"override"`), checked
 * for shape alone. Whether the class, course and members exist is checked against the
 * database by `enqueue`.
 */
import { isUuid, normalizeUuid, shown } from '../ids.js';
import { type Source, isSource, memberListSources, sources } from './sources.js';

export interface EnqueueRequest {
  source: Source;
  classId: string | null;
  courseId: string | null;
  /** Unique, lower-case; empty for class-wide sources. */
  memberIds: string[];
  /** How many member ids the request repeated (counted as duplicates). */
  repeatedMembers: number;
  /**
   * Recompute learners who already have content (their competencies changed since), and
   * replace it; without it a learner with content is left as is.
   */
  override: boolean;
}

/**
 * Most learners one request may name. The same for flags, JSON lines and HTTP bodies; it
 * fits a JSON line well within its byte cap (an id takes 39 bytes), and a larger group
 * is better sent as several requests, each queued in bounded memory.
 */
export const maxMembersPerRequest = 25_000;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const knownFields = new Set(['source', 'classId', 'courseId', 'memberIds', 'override']);

/** How errors name each field (JSON field names, or the flags that set them); `override` defaults to its JSON name. */
export type FieldNames = Readonly<Record<'source' | 'classId' | 'courseId' | 'memberIds', string>> & { readonly override?: string };

const jsonFieldNames: FieldNames = { source: 'source', classId: 'classId', courseId: 'courseId', memberIds: 'memberIds', override: 'override' };

/**
 * Checks one request object; the error names the field (or, with `names`, the flag that
 * set it) and what is allowed.
 */
export function parseEnqueueRequest(input: unknown, names: FieldNames = jsonFieldNames): Parsed<EnqueueRequest> {
  const fail = (error: string): Parsed<EnqueueRequest> => ({ ok: false, error });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail('a request must be a JSON object like {"source":"oob","courseId":"<uuid>","memberIds":["<uuid>"]}');
  }
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !knownFields.has(k));
  if (unknown.length > 0) return fail(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: source, classId, courseId, memberIds, override`);
  if (!isSource(o.source)) return fail(`${names.source} must be one of ${sources.join(', ')}; got ${shown(o.source)}`);
  const source = o.source;

  const optionalUuid = (field: 'classId' | 'courseId'): string | null | Error => {
    const v = o[field];
    if (v === undefined || v === null) return null;
    return isUuid(v) ? normalizeUuid(v) : new Error(`${names[field]} must be a UUID; got ${shown(v)}`);
  };
  const classId = optionalUuid('classId');
  if (classId instanceof Error) return fail(classId.message);
  const courseId = optionalUuid('courseId');
  if (courseId instanceof Error) return fail(courseId.message);

  if (o.override !== undefined && o.override !== null && typeof o.override !== 'boolean') {
    return fail(`${names.override ?? 'override'} must be true or false; got ${shown(o.override)}`);
  }
  const override = o.override === true;

  let memberIds: string[] = [];
  let repeatedMembers = 0;
  if (o.memberIds !== undefined && o.memberIds !== null) {
    if (!Array.isArray(o.memberIds)) return fail(`${names.memberIds} must be an array of UUIDs; got ${shown(o.memberIds)}`);
    if (o.memberIds.length > maxMembersPerRequest) {
      return fail(`${names.memberIds} holds ${o.memberIds.length} ids; a request takes at most ${maxMembersPerRequest}: split it into several requests`);
    }
    const bad = o.memberIds.findIndex((m) => !isUuid(m));
    if (bad >= 0) return fail(`${names.memberIds}[${bad}] must be a UUID; got ${shown(o.memberIds[bad])}`);
    const unique = new Set((o.memberIds as string[]).map(normalizeUuid));
    repeatedMembers = o.memberIds.length - unique.size;
    memberIds = [...unique];
  }

  if (memberListSources.has(source)) {
    if (memberIds.length === 0) return fail(`${source} needs ${names.memberIds}: the learners to rescope`);
    if (classId === null && source === 'join.class') return fail(`join.class needs ${names.classId}`);
    if (classId === null && courseId === null) return fail(`oob needs ${names.classId}, or ${names.courseId} for independent learning`);
  } else {
    if (classId === null) return fail(`${source} needs ${names.classId}`);
    if (memberIds.length > 0) return fail(`${source} takes no ${names.memberIds}: it queues every active member of the class`);
  }
  return { ok: true, value: { source, classId, courseId, memberIds, repeatedMembers, override } };
}
