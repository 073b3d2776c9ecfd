/**
 * The "Do Rescope API" for a known caller (the HTTP front): the request is authorised by
 * `decideRescopeRequest`, then queued by `enqueue` with exactly the command's rules.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../log/logger.js';
import { type EnqueueResult, enqueue } from './enqueue.js';
import type { EnqueueRequest } from './enqueue-request.js';
import type { RejectionKind } from './enqueue-target.js';
import { decideRescopeRequest, isOwnRequest } from './request-access-rule.js';
import { isCollaborator, loadClasses } from './reference-data.js';

export type RescopeRequestOutcome =
  | { status: 'queued'; result: EnqueueResult }
  | { status: 'forbidden'; reason: string }
  /** What `enqueue` refused, and why (invalid, not found, not applicable). */
  | { status: 'rejected'; reason: RejectionKind; error: string };

export async function requestRescope(db: Database, callerId: string, request: EnqueueRequest, options: { log?: Logger } = {}): Promise<RescopeRequestOutcome> {
  // A learner asking for themself, or a request without a class, needs no class facts.
  const classId = isOwnRequest(callerId, request) ? null : request.classId;
  const [klass, callerIsCollaborator] = classId
    ? await Promise.all([loadClasses(db, [classId]).then((m) => m.get(classId) ?? null), isCollaborator(db, classId, callerId)])
    : [null, false];
  const decision = decideRescopeRequest({ callerId, request, klass, callerIsCollaborator });
  if (decision.kind === 'forbidden') return { status: 'forbidden', reason: decision.reason };
  const result = await enqueue(db, [{ line: null, request }], { log: options.log });
  const [rejection] = result.rejected;
  if (rejection) return { status: 'rejected', reason: rejection.reason, error: rejection.error };
  return { status: 'queued', result };
}
