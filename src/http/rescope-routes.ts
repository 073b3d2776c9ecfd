/**
 * The original service's two routes. Each parses and checks the request, calls the
 * function the command calls (fetchRescoped as rescope-show does, requestRescope over
 * enqueue), and turns its outcome into an answer: no rule lives here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import type { Logger } from '../log/logger.js';
import { parseEnqueueRequest } from '../rescope/enqueue-request.js';
import { requestRescope } from '../rescope/request-rescope.js';
import { fetchRescoped } from '../rescope/show.js';
import { type Answer, fetchAnswer, rescopeAnswer } from './answers.js';
import { callerOf } from './auth.js';
import { apiVersions, isJsonContentType, parseFetchQuery } from './requests.js';

const path = '/api/rescope/:version/scope/skipped';

type Routed = FastifyRequest<{ Params: { version: string }; Querystring: Record<string, unknown> }>;

export function registerRescopeRoutes(app: FastifyInstance, db: Database, log: Logger): void {
  // No HEAD like the GET: a Fetch may queue an oob request, and HEAD must not change anything.
  app.get(path, { exposeHeadRoute: false }, async (request: Routed, reply) => {
    if (!apiVersions.includes(request.params.version)) return send(request, reply, unsupportedVersion);
    const parsed = parseFetchQuery(request.query);
    if (!parsed.ok) return send(request, reply, { status: 400, body: { message: parsed.message } });
    return send(request, reply, fetchAnswer(await fetchRescoped(db, callerOf(request), parsed.value, { log })));
  });

  // The route is there: a HEAD is told which methods it takes, not 404 "Not found".
  app.head(path, async (request, reply) => {
    reply.header('allow', 'GET, POST');
    return send(request, reply, { status: 405, body: { message: 'Method HEAD is not allowed: use GET' }, reason: 'HEAD is not answered here, as a Fetch may queue a request: use GET' });
  });

  app.post(path, async (request: Routed, reply) => {
    if (!apiVersions.includes(request.params.version)) return send(request, reply, unsupportedVersion);
    // A POST without a body reaches here without a parser; one with a body of another type
    // was already refused with 415.
    if (!isJsonContentType(request.headers['content-type'])) {
      return send(request, reply, { status: 415, body: { message: 'Content-Type must be application/json' } });
    }
    const parsed = parseEnqueueRequest(request.body);
    if (!parsed.ok) return send(request, reply, { status: 400, body: { message: parsed.error } });
    return send(request, reply, rescopeAnswer(await requestRescope(db, callerOf(request), parsed.value, { log })));
  });
}

const unsupportedVersion: Answer = { status: 501, body: { message: 'API version is not supported' } };

function send(request: FastifyRequest, reply: FastifyReply, answer: Answer): FastifyReply {
  // Every refusal says why in the access log: its own reason, else the message it sends.
  const reason = answer.reason ?? (answer.status >= 400 && typeof answer.body === 'object' ? answer.body.message : undefined);
  if (typeof reason === 'string') request.outcomeReason = reason;
  // Stored content goes out byte for byte as stored, not parsed and serialised again.
  return reply.code(answer.status).type('application/json; charset=utf-8').send(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
}
