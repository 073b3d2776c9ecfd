/**
 * Who may ask for a rescope (the "Do Rescope API" over HTTP), a pure function of the
 * facts. The original service never checked; here the caller must be the class's creator
 * or a co-teacher, except that a learner may ask for themself alone (`join.class` when
 * joining, `oob` for their own content, in a class or in independent learning).
 *
 * An unknown class is not decided here: nobody can be its teacher, and `enqueue` answers
 * it as not found, as it does for the command.
 */
import type { EnqueueRequest } from './enqueue-request.js';
import type { ClassFacts } from './reference-data.js';
import { memberListSources } from './sources.js';

export interface RescopeRequestFacts {
  callerId: string;
  request: Pick<EnqueueRequest, 'source' | 'classId' | 'memberIds'>;
  /** The request's class, or null when it names none or none exists. */
  klass: ClassFacts | null;
  /** Whether the caller is a collaborator (co-teacher) of the class. */
  callerIsCollaborator: boolean;
}

export type RescopeRequestDecision =
  | { kind: 'allowed'; as: 'learner' | 'teacher' | 'co-teacher' }
  | { kind: 'unknown-class' }
  | { kind: 'forbidden'; reason: string };

/** Whether the request names exactly one learner, the caller (ids are normalised by the parser). */
export function isOwnRequest(callerId: string, request: RescopeRequestFacts['request']): boolean {
  return memberListSources.has(request.source) && request.memberIds.length === 1 && request.memberIds[0] === callerId;
}

export function decideRescopeRequest(f: RescopeRequestFacts): RescopeRequestDecision {
  if (isOwnRequest(f.callerId, f.request)) return { kind: 'allowed', as: 'learner' };
  const { classId } = f.request;
  if (classId === null) {
    return { kind: 'forbidden', reason: `in independent learning a learner may only ask for themself; the caller ${f.callerId} is not the one member named` };
  }
  if (!f.klass) return { kind: 'unknown-class' };
  if (f.callerId === f.klass.creatorId) return { kind: 'allowed', as: 'teacher' };
  if (f.callerIsCollaborator) return { kind: 'allowed', as: 'co-teacher' };
  const what = memberListSources.has(f.request.source) ? `${f.request.source} for learners other than themself` : f.request.source;
  return { kind: 'forbidden', reason: `the caller ${f.callerId} is neither the creator nor a co-teacher of class ${classId}, so may not ask for ${what}` };
}
