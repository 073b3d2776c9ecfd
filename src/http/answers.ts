/**
 * Outcomes of the library functions as HTTP answers, the way the commands turn them into
 * exit codes (README, "HTTP API", has the table). Messages are the original service's
 * where it had one.
 */
import type { RescopeRequestOutcome } from '../rescope/request-rescope.js';
import type { FetchOutcome } from '../rescope/show.js';

export interface Answer {
  status: number;
  /** A JSON document already serialised (stored content), or an object to serialise. */
  body: string | Record<string, unknown>;
  /** Why, for the access log, when the body does not say. */
  reason?: string;
}

export const notApplicableMessage = 'Rescope not applicable to specified course/class';
export const notFoundMessage = 'Rescoped content not found';

export function fetchAnswer(outcome: FetchOutcome): Answer {
  switch (outcome.status) {
    case 'found':
      return { status: 200, body: outcome.content };
    case 'queued':
      return { status: 404, body: { message: notFoundMessage }, reason: outcome.alreadyQueued ? 'an oob request was already queued' : 'queued an oob request' };
    case 'forbidden':
      return { status: 403, body: { message: outcome.reason } };
    case 'not-applicable':
      return { status: 400, body: { message: notApplicableMessage }, reason: outcome.reason };
  }
}

export function rescopeAnswer(outcome: RescopeRequestOutcome): Answer {
  switch (outcome.status) {
    case 'queued': {
      const r = outcome.result;
      return { status: 200, body: { queued: r.queued, duplicates: r.duplicates, dropped: r.dropped, requeued: r.requeued, rescopeOff: r.rescopeOff.length } };
    }
    case 'forbidden':
      return { status: 403, body: { message: outcome.reason } };
    case 'rejected':
      // Unknown class or course: 404; a deleted or archived class, a course without a
      // version, a course that is not the class's: the request is wrong, 400.
      return { status: outcome.reason === 'not-found' ? 404 : 400, body: { message: outcome.error } };
  }
}
