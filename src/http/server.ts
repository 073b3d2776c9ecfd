/**
 * The HTTP front (`serve`): fastify with the program's logger (fastify's own, pino, stays
 * off, so there is one log format), the original service's routes, probes and metrics,
 * timeouts that keep slow or idle clients from holding connections, and a graceful stop.
 */
import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { duplicateKeyOrDepth } from '../input/json-shape.js';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { ConfigError, ConnectionError, errorMessage, lostConnection, statementCause } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RedisClient } from '../redis/redis.js';
import { registerAuth } from './auth.js';
import { type Metrics, type MetricsOptions, createMetrics } from './metrics.js';
import { registerProbes } from './probes.js';
import { registerRescopeRoutes } from './rescope-routes.js';

export interface ServerDeps {
  db: Database;
  redis: RedisClient;
  log: Logger;
  sessionPrefix: string;
  /** The Redis server as errors name it (URL with the password masked); default "(the configured server)". */
  redisLabel?: string;
  metrics?: MetricsOptions;
  /** The client's deadline for its headers (tests shorten it); default timeouts.headersMs. */
  headersTimeoutMs?: number;
  /** How long a stop lets requests in flight run (tests shorten it); default stopGraceMs. */
  stopGraceMs?: number;
}

/** Largest request body: a class-wide member list fits many times over. */
export const bodyLimitBytes = 1024 * 1024;

/**
 * Timeouts. A client must send its whole request within 30 s (a slow sender cannot hold
 * a connection), headers within 10 s, and a connection idle between requests is closed
 * after 65 s (longer than the 60 s idle timeout of common proxies, so the proxy, not
 * us, closes first and never sends on a connection we are closing).
 */
export const timeouts = { requestMs: 30_000, headersMs: 10_000, keepAliveMs: 65_000, idleSocketMs: 70_000 } as const;

/** After a stop signal, in-flight requests get this long before their connections are cut; well within the 24 s hard stop. */
export const stopGraceMs = 20_000;

export function createApp(deps: ServerDeps): FastifyInstance {
  const { db, redis, log } = deps;
  const headersMs = deps.headersTimeoutMs ?? timeouts.headersMs;
  const metrics = createMetrics(db, log, deps.metrics);
  const app = Fastify({
    logger: false,
    // Node checks the header and request deadlines only this often (by default every
    // 30 s, so a 10 s deadline fired after 10 to 40 s): a quarter of the deadline, at most 1 s.
    http: { connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersMs / 4))) },
    bodyLimit: bodyLimitBytes,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionTimeout: timeouts.idleSocketMs,
    // While stopping: new requests on kept-alive connections get 503 and a closed connection.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A request Node refuses before fastify sees it (headers or body not received in
    // time, a malformed request line): answered in the API's error shape and access-logged.
    clientErrorHandler: (err, socket) => answerClientError(err, socket, log, metrics),
    // A URL the router cannot read (a malformed %-escape, a path segment over 100
    // characters): the same shape and one access line, not fastify's own body.
    frameworkErrors: (error, request, reply) => answerUnroutable(error, request.raw, reply.raw, log, metrics),
  });
  app.server.headersTimeout = headersMs;
  // JSON only: fastify also parses text/plain by default, which a client of this API never sends.
  app.removeContentTypeParser('text/plain');
  // Bodies are read as enqueue's JSON lines are: a key given twice is refused, not
  // settled by "the last one wins" (a proxy or an audit log reading the first would see
  // another request than the one queued); "__proto__" is an ordinary, unknown key.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    // A byte-order mark before the JSON (some Windows tools write one) is dropped, as on a
    // --jsonl line: RFC 8259 lets a parser ignore it, and the request is not in doubt.
    const text = String(body).replace(/^\uFEFF/, '');
    const refuse = (message: string) => done(Object.assign(new Error(message), { statusCode: 400 }), undefined);
    if (text === '') return refuse("Body cannot be empty when content-type is set to 'application/json'");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return refuse("Body is not valid JSON but content-type is set to 'application/json'");
    }
    const refused = duplicateKeyOrDepth(text);
    if (refused !== null) return refuse(`the body is refused: ${refused}`);
    done(null, value);
  });

  // A callback hook, not an async one: it runs for every request, and a promise each adds up.
  app.addHook('onResponse', (request, reply, done) => {
    const ms = reply.elapsedTime;
    recordRequest(
      log,
      metrics,
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        path: request.url,
        status: reply.statusCode,
        ms: Math.round(ms * 10) / 10,
        caller: request.callerId || undefined,
        reason: request.outcomeReason || undefined,
      },
      ms / 1000,
    );
    done();
  });

  registerAuth(app, redis, deps.sessionPrefix, deps.redisLabel ?? '(the configured server)');
  registerRescopeRoutes(app, db, log);
  registerProbes(app, db, redis, metrics);

  // An unknown route is answered before its body is read: a body over the limit would
  // otherwise be 413, as if the route existed.
  const notFound = async (request: FastifyRequest, reply: FastifyReply) => {
    request.outcomeReason = 'no such route';
    return reply.code(404).send({ message: 'Not found' });
  };
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return notFound(request, reply);
  });
  app.setNotFoundHandler(notFound);
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    // Fastify's own refusals (body too large 413, unsupported media type 415, a body that
    // is not JSON 400, …) say what the client got wrong.
    if (status >= 400 && status < 500) {
      request.outcomeReason = error.message;
      return reply.code(status).send({ message: error.message });
    }
    // Anything else is ours: the cause goes to the log, never to the client.
    log.error('request failed', { method: request.method, path: request.url, error: failureText(error, db), ...(error.cause ? { cause: errorMessage(error.cause) } : {}) });
    return reply.code(500).send();
  });
  return app;
}

/**
 * A failed request's cause as the log says it: one that came from the database names it,
 * as a Redis failure names Redis (a refused or timed-out connection says nothing of
 * which server it was).
 */
function failureText(error: Error, db: Database): string {
  const message = errorMessage(error);
  const code = String((error as NodeJS.ErrnoException).code ?? '');
  const fromDatabase =
    statementCause(error) !== null ||
    lostConnection(error)?.service === 'database' ||
    error.name === 'KnexTimeoutError' ||
    // The database's own refusals: an SQLSTATE (PostgreSQL; none starts with E, as the
    // system's own codes do: EPERM, EBUSY), an SQLITE_ code.
    /^(?!E)[0-9A-Z]{5}$/.test(code) ||
    code.startsWith('SQLITE_') ||
    ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(code) ||
    message === 'timeout expired';
  return fromDatabase ? `database ${db.display}: ${message}` : message;
}

/** One access-log line, in the order its fields are written (undefined ones are left out). */
type AccessLine = {
  method?: string;
  route: string;
  path?: string;
  status: number;
  ms?: number;
  caller?: string;
  reason?: string;
};

/**
 * Every answered request, however it was answered: counted in the metrics (a request
 * whose method was never read as "unknown") and written as one access-log line. The
 * line is the log record itself: nothing is copied per request.
 */
function recordRequest(log: Logger, metrics: Metrics, line: AccessLine, seconds: number): void {
  metrics.observe(line.method ?? 'unknown', line.route, line.status, seconds);
  log.info('request', line);
}

/**
 * Node's refusals of a request it could not read (fastify's default handler answers them
 * in its own error shape and logs nothing): 408 when the headers or the body did not
 * arrive in time, 431 for headers too large, 400 for anything malformed. The request's
 * method and path are unknown here; the access line says what went wrong.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger, metrics: Metrics): void {
  // A reset connection, or one the client ended part-way through a request (after a 401
  // or 413 it stopped sending the body we did not read), has nobody to answer: it is no
  // request of its own, to log and count.
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || socket.destroyed) {
    socket.destroy();
    return;
  }
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, 'the request is not valid HTTP'];
  recordRequest(log, metrics, { route: 'unmatched', status, reason: `${message} (${err.code ?? errorMessage(err)})` }, 0);
  if (socket.writable) {
    const body = JSON.stringify({ message });
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Why serve cannot listen, with the fix. A host that is not an address of this machine or
 * a port it may not bind is a setting to change (exit 2); a port another process holds
 * may be free on the next try (exit 1).
 */
function listenError(err: unknown, listen: { host: string; port: number }): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const what = `cannot listen on ${listen.host}:${listen.port}: ${errorMessage(err)}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL' || code === 'EINVAL') {
    return new ConfigError(
      `${what}: --serve-host (MTC_BATCH_SERVE_HOST) must be an address of this machine, or a name that resolves to one, without a port ` +
        '(127.0.0.1 for this machine only, 0.0.0.0 or :: for every interface, as in a container)',
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new ConfigError(`${what}: this process may not bind that port; give --serve-port (MTC_BATCH_SERVE_PORT) a port above 1023`, { cause: err });
  }
  if (code === 'EADDRINUSE') {
    return new ConnectionError(`${what}: another process (another serve?) already listens there; stop it, or give --serve-port (MTC_BATCH_SERVE_PORT) another port`, { cause: err });
  }
  return new ConnectionError(`${what} (--serve-host and --serve-port, or MTC_BATCH_SERVE_HOST and MTC_BATCH_SERVE_PORT)`, { cause: err });
}

function answerUnroutable(error: FastifyError, request: IncomingMessage, response: ServerResponse, log: Logger, metrics: Metrics): void {
  const [status, message] =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? [414, 'a part of the path is too long'] : error.code === 'FST_ERR_BAD_URL' ? [400, 'the URL is not valid (a malformed %-escape)'] : [400, error.message];
  recordRequest(log, metrics, { method: request.method ?? 'unknown', route: 'unmatched', path: request.url, status, reason: message }, 0);
  const body = JSON.stringify({ message });
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /**
   * Stops accepting, lets in-flight requests finish (cutting their connections, and
   * cancelling their database statements, after `stopGraceMs`), and resolves when the
   * server is closed. Pools are the caller's.
   */
  stop(): Promise<void>;
}

export async function startServer(deps: ServerDeps, listen: { host: string; port: number }): Promise<RunningServer> {
  const app = createApp(deps);
  // Which connections carry a request being answered: a stop closes the others at once,
  // those a client has sent only part of a request on too (Node stops checking their
  // header deadline once the server closes, so one stalled client held every stop for
  // the whole grace period).
  const connections = new Set<Socket>();
  const answering = new WeakSet<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    answering.add(socket);
    response.once('close', () => answering.delete(socket));
  });
  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(err, listen);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  let stopping: Promise<void> | undefined;
  return {
    app,
    url: `http://${host}:${port}`,
    port,
    stop() {
      stopping ??= (async () => {
        const graceMs = deps.stopGraceMs ?? stopGraceMs;
        const cut = setTimeout(() => {
          // A request stuck on a database lock would also hold the pool's closing, past
          // the process's deadline: its statement is cancelled where the database allows.
          const cancelled = deps.db.dialect.cancelRunningStatements?.(deps.db.knex) ?? 0;
          deps.log.warn(
            `requests still running ${graceMs / 1000} s after the stop signal: closing their connections` +
              (cancelled > 0 ? ` and cancelling their ${cancelled} database statements` : ''),
          );
          app.server.closeAllConnections();
        }, graceMs);
        try {
          const closing = app.close();
          for (const socket of connections) if (!answering.has(socket)) socket.destroy();
          await closing;
        } finally {
          clearTimeout(cut);
        }
      })();
      return stopping;
    },
  };
}
