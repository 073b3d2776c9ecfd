/**
 * Authentication of the rescope routes, before anything else is read (a body is not even
 * parsed for an unknown caller): `Authorization: Token <base64 text>`, looked up with the
 * one session function `rescope-show` uses. Any failure is 401 with an empty body, as the
 * original service answered; the access log says why.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { redisFailure } from '../errors.js';
import type { RedisClient } from '../redis/redis.js';
import { sessionUser, tokenFromAuthorization } from '../rescope/sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session's user, set for the rescope routes once the token is checked. */
    callerId: string | null;
    /** Why the answer is what it is, for the access log (never the token). */
    outcomeReason: string | null;
  }
}

export const rescopePathPrefix = '/api/rescope/';

/** `redisLabel`: the Redis server as logs name it (URL, password masked). */
export function registerAuth(app: FastifyInstance, redis: RedisClient, sessionPrefix: string, redisLabel: string): void {
  app.decorateRequest('callerId', null);
  app.decorateRequest('outcomeReason', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.url.startsWith(rescopePathPrefix)) return;
    // Node keeps the first of two Authorization headers and drops the other: a request
    // carrying two is ambiguous (a proxy may have read the other one), so it is refused.
    if (authorizationHeaders(request.raw.rawHeaders) > 1) {
      request.outcomeReason = 'more than one Authorization header';
      return reply.code(401).send();
    }
    const token = tokenFromAuthorization(request.headers.authorization);
    if (token === null) {
      request.outcomeReason = request.headers.authorization === undefined ? 'no Authorization header' : 'the Authorization header is not "Token <base64 text>"';
      return reply.code(401).send();
    }
    const session = await sessionUser(redis, sessionPrefix, token).catch((err: unknown) => {
      throw new Error(`Redis ${redisLabel}: ${redisFailure(err)}`, { cause: err });
    });
    if (!session.ok) {
      request.outcomeReason = session.reason;
      return reply.code(401).send();
    }
    request.callerId = session.userId;
  });
}

/** How many Authorization headers a request carries (`rawHeaders` alternates names and values). */
export function authorizationHeaders(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  return count;
}

/** The caller of a request that went through the hook (a route outside it has none). */
export function callerOf(request: FastifyRequest): string {
  if (request.callerId === null) throw new Error(`no caller on ${request.url}: the route is not under ${rescopePathPrefix}`);
  return request.callerId;
}
