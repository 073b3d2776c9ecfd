/**
 * Kubernetes probes. `/healthz`: the process answers (liveness; it never touches the
 * database or Redis, so an outage of either does not restart every pod). `/readyz`: the
 * database and Redis each answer within 1 s, else 503 naming which did not (the pod is
 * taken out of the Service until they do). `/metrics` for Prometheus.
 */
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.js';
import { errorMessage, redisFailure, redisNotConnected } from '../errors.js';
import type { RedisClient } from '../redis/redis.js';
import { within } from './deadline.js';
import type { Metrics } from './metrics.js';

export const readinessTimeoutMs = 1_000;

/** 'ok', or why `probe` failed or did not answer within the time. */
function check(probe: () => Promise<unknown>, timeoutMs: number, describe: (err: unknown) => string = errorMessage): Promise<string> {
  return within(
    probe().then(() => 'ok', (err: unknown) => describe(err)),
    timeoutMs,
    () => `no answer within ${timeoutMs} ms`,
  );
}

export function registerProbes(app: FastifyInstance, db: Database, redis: RedisClient, metrics: Metrics): void {
  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [database, redisState] = await Promise.all([
      check(() => db.knex.raw('SELECT 1'), readinessTimeoutMs),
      // A client that knows it is reconnecting is not asked: its command would only wait.
      redis.status === 'ready' ? check(() => redis.ping(), readinessTimeoutMs, redisFailure) : redisNotConnected,
    ]);
    const failed = [database === 'ok' ? null : `database: ${database}`, redisState === 'ok' ? null : `redis: ${redisState}`].filter((x) => x !== null);
    if (failed.length === 0) return reply.code(200).send({ database, redis: redisState });
    return reply.code(503).send({ message: `not ready: ${failed.join('; ')}`, database, redis: redisState });
  });

  app.get('/metrics', async (_request, reply) => reply.code(200).type(metrics.contentType).send(await metrics.render()));
}
