/**
 * What a request to the rescope routes says, checked for shape alone, with the original
 * service's messages. No access rule here: the routes hand the parsed request to the same
 * functions the commands call.
 */
import { isUuid, normalizeUuid } from '../ids.js';
import type { FetchRequest } from '../rescope/show.js';

/** The API versions the original service answered on the same paths. */
export const apiVersions: readonly string[] = ['v1', 'v2'];

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The Fetch query: `courseId` (required), `classId` and `userId` (optional; empty is
 * absent, as clients send `classId=` for independent learning). A parameter given twice
 * is refused rather than one of its values picked; a malformed `classId` is refused, not
 * ignored as the original did, which answered for independent learning instead.
 */
export function parseFetchQuery(query: Record<string, unknown>): Checked<FetchRequest> {
  const single = (name: string): string | undefined | Error => {
    const value = query[name];
    if (Array.isArray(value)) return new Error(`Parameter ${name} is given more than once`);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const courseId = single('courseId');
  const classId = single('classId');
  const userId = single('userId');
  for (const value of [courseId, classId, userId]) if (value instanceof Error) return { ok: false, message: value.message };
  if (courseId === undefined) return { ok: false, message: 'Invalid course id' };
  for (const value of [courseId, classId, userId]) if (value !== undefined && !isUuid(value)) return { ok: false, message: 'Invalid UUID format' };
  return {
    ok: true,
    value: {
      courseId: normalizeUuid(courseId as string),
      classId: typeof classId === 'string' ? normalizeUuid(classId) : null,
      ...(typeof userId === 'string' ? { userId: normalizeUuid(userId) } : {}),
    },
  };
}

/** Whether a POST body was sent as JSON (`application/json`, any parameters). */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && /^application\/json\s*(;|$)/i.test(header.trim());
}
