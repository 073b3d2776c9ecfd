/**
 * The "Fetch Rescope API": who is asking (session), may they read this learner's course
 * (access rule), and the stored content, or not-found with an `oob` request queued so
 * the content exists next time.
 */
import type { RedisClient } from '../redis/redis.js';
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { decideAccess } from './access-rule.js';
import { type Learner, readContent } from './content-table.js';
import { enqueue } from './enqueue.js';
import { isActiveMember, isCollaborator, loadClasses, loadCourses } from './reference-data.js';
import { sessionUser } from './sessions.js';

export interface ShowRequest {
  token: string;
  courseId: string;
  classId: string | null;
  /** The learner to read; defaults to the session's user. */
  userId?: string;
}

/**
 * Exactly the documented answers: found (exit 0), queued (exit 3: poll again later),
 * unauthorised or forbidden (exit 4), not applicable (exit 5). There is no "not found and
 * not queued": a client polling on "queued" would wait forever for it.
 */
export type ShowOutcome =
  | { status: 'found'; learner: Learner; content: string }
  | { status: 'queued'; learner: Learner; alreadyQueued: boolean }
  | { status: 'unauthorised'; reason: string }
  | { status: 'forbidden'; reason: string }
  | { status: 'not-applicable'; reason: string };

export interface ShowOptions {
  sessionPrefix: string;
  log?: Logger;
}

export async function rescopeShow(db: Database, redis: RedisClient, request: ShowRequest, options: ShowOptions): Promise<ShowOutcome> {
  const log = options.log ?? silentLogger;
  const session = await sessionUser(redis, options.sessionPrefix, request.token);
  if (!session.ok) return { status: 'unauthorised', reason: session.reason };

  const callerId = session.userId;
  const targetId = request.userId ?? callerId;
  const { courseId, classId } = request;
  const [klass, course, targetIsActiveMember, callerIsCollaborator] = classId
    ? await Promise.all([
        loadClasses(db, [classId]).then((m) => m.get(classId) ?? null),
        Promise.resolve(null),
        isActiveMember(db, classId, targetId),
        isCollaborator(db, classId, callerId),
      ])
    : [null, (await loadCourses(db, [courseId])).get(courseId) ?? null, false, false];

  const decision = decideAccess({ callerId, targetId, courseId, classId, course, klass, targetIsActiveMember, callerIsCollaborator });
  if (decision.kind !== 'allowed') return { status: decision.kind, reason: decision.reason };

  const learner: Learner = { userId: targetId, courseId, classId };
  const content = await readContent(db, learner);
  if (content !== null) return { status: 'found', learner, content };

  const request_ = { source: 'oob' as const, classId, courseId, memberIds: [targetId], repeatedMembers: 0 };
  const queued = await enqueue(db, [{ line: null, request: request_ }], { log });
  // The access rule let the caller read, but enqueue's rules for the oob request are
  // stricter (an archived class, a class whose setting changed meanwhile): nothing can be
  // computed for this learner, so rescope does not apply, as enqueue itself says.
  const [rejected] = queued.rejected;
  if (rejected) return { status: 'not-applicable', reason: rejected.error };
  if (queued.rescopeOff.length > 0) return { status: 'not-applicable', reason: `class ${classId} has rescope off` };
  // A failed row queued again by this request is queued by it, not found waiting.
  const alreadyQueued = queued.queued + queued.requeued === 0;
  log.info(alreadyQueued ? 'not found: an oob request was already queued' : 'not found: queued an oob request', { ...learner });
  return { status: 'queued', learner, alreadyQueued };
}
