/**
 * The "Fetch Rescope API": who is asking (session), may they read this learner's course
 * (access rule), and the stored content, or not-found with an `oob` request queued so
 * the content exists next time. `rescope-show` calls `rescopeShow`; the HTTP front looks
 * the session up once per request with the same `sessionUser` and calls `fetchRescoped`.
 */
import type { RedisClient } from '../redis/redis.js';
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { decideAccess } from './access-rule.js';
import type { Learner } from './content-table.js';
import { enqueue } from './enqueue.js';
import { readFetchFacts } from './fetch-facts.js';
import { sessionUser } from './sessions.js';

export interface FetchRequest {
  courseId: string;
  classId: string | null;
  /** The learner to read; defaults to the caller. */
  userId?: string;
}

export interface ShowRequest extends FetchRequest {
  token: string;
}

/**
 * Exactly the documented answers: found (exit 0), queued (exit 3: poll again later),
 * forbidden (exit 4), not applicable (exit 5). There is no "not found and not queued": a
 * client polling on "queued" would wait forever for it.
 */
export type FetchOutcome =
  | { status: 'found'; learner: Learner; content: string }
  | { status: 'queued'; learner: Learner; alreadyQueued: boolean }
  | { status: 'forbidden'; reason: string }
  | { status: 'not-applicable'; reason: string };

/** A fetch's answer, or unauthorised (exit 4) when the token names no session. */
export type ShowOutcome = FetchOutcome | { status: 'unauthorised'; reason: string };

export interface ShowOptions {
  sessionPrefix: string;
  log?: Logger;
}

/** Looks the session up, then fetches as its user. */
export async function rescopeShow(db: Database, redis: RedisClient, request: ShowRequest, options: ShowOptions): Promise<ShowOutcome> {
  const session = await sessionUser(redis, options.sessionPrefix, request.token);
  if (!session.ok) return { status: 'unauthorised', reason: session.reason };
  return fetchRescoped(db, session.userId, request, { log: options.log });
}

/**
 * What `callerId` gets for the request: one statement reads the access facts with the
 * stored content, `decideAccess` decides, and only a learner without content costs more
 * (the `oob` request).
 */
export async function fetchRescoped(db: Database, callerId: string, request: FetchRequest, options: { log?: Logger } = {}): Promise<FetchOutcome> {
  const log = options.log ?? silentLogger;
  const targetId = request.userId ?? callerId;
  const { courseId, classId } = request;
  const { facts, content } = await readFetchFacts(db, { callerId, targetId, courseId, classId });
  const decision = decideAccess(facts);
  if (decision.kind !== 'allowed') return { status: decision.kind, reason: decision.reason };

  const learner: Learner = { userId: targetId, courseId, classId };
  if (content !== null) return { status: 'found', learner, content };

  const oob = { source: 'oob' as const, classId, courseId, memberIds: [targetId], repeatedMembers: 0, override: false };
  const queued = await enqueue(db, [{ line: null, request: oob }], { log });
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
