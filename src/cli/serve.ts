import { setFlagsFromString } from 'node:v8';
import { whenAborted } from '../abort.js';
import { maskUrl } from '../config/settings.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RedisClient } from '../redis/redis.js';
import type { CommandSpec, Outcome } from './command.js';

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'answer the Fetch and Do Rescope APIs over HTTP, with health, readiness and metrics, until stopped',
  description:
    'The one long-running command: the original rescope service\'s HTTP API (GET and POST ' +
    '/api/rescope/{v1|v2}/scope/skipped, authorised by "Authorization: Token <token>" sessions in Redis) over the ' +
    'same functions as rescope-show and enqueue, plus GET /healthz, /readyz and /metrics. Logs one JSON line per ' +
    'request. On SIGTERM, SIGINT or SIGHUP it stops accepting, finishes the requests in flight (cutting them after 20 s), ' +
    'closes its connections and exits 0.',
  settings: ['serveHost', 'servePort', 'sessionPrefix', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  stopsOnSignal: true,
  async run({ runtime, config, log, io }): Promise<Outcome> {
    // V8 moves the objects of an allocation site straight to the old generation once most
    // of them outlive a young-generation GC. A server warming up under load (connections
    // being opened, code not yet compiled, requests waiting) makes request objects look
    // long-lived, the decision is never revisited, and from then on every request's
    // objects (the stored content too, through them) are freed only by full GCs: in the
    // bench ~4.5 KB a request promoted instead of ~0.2 KB, and 10-15 % more CPU a request.
    // Request objects here live for one request, so the guess is switched off for serve.
    setFlagsFromString('--no-allocation-site-pretenuring');
    const [{ startServer }, { nonBlocking }, { createLogger }] = await Promise.all([
      import('../http/server.js'),
      import('../log/nonblocking-stream.js'),
      import('../log/logger.js'),
    ]);
    // The runtime refuses a database that is not migrated. Redis as a long-running client:
    // reconnect after a Redis restart, and never wait on a reply longer than a request should.
    const [db, redis] = await Promise.all([runtime.db(), runtime.redis({ reconnect: 'forever', commandTimeoutMs: 5_000 })]);
    // The same logger and records, written without blocking: a request never waits for
    // the log's reader (see nonblocking-stream.ts).
    const sink = nonBlocking(io.stderr);
    const serveLog = createLogger({ format: log.format, level: config.logLevel, stream: sink.stream, base: { command: 'serve' } });
    const redisLabel = maskUrl(config.redisUrl);
    const signal = io.signal ?? runtime.signal;
    const unwatch = watchConnection(redis.client, redisLabel, serveLog, signal);
    try {
      const server = await startServer({ db, redis: redis.client, log: serveLog, sessionPrefix: config.sessionPrefix, redisLabel }, { host: config.serveHost, port: config.servePort });
      serveLog.info('listening', { url: server.url, port: server.port });
      await whenAborted(signal);
      serveLog.info('stopping: no new connections; finishing the requests in flight', { reason: String((signal.reason as Error | undefined)?.message ?? signal.reason) });
      await server.stop();
      // Every access line out before the command's own final record.
      await sink.flush();
      return { result: { url: server.url, stopped: true }, human: `stopped serving ${server.url}` };
    } finally {
      // Whatever ends serve (a stop, or failing to listen) closes its Redis connection
      // itself afterwards: that is no outage.
      unwatch();
    }
  },
};

/**
 * One warning when the connection to Redis drops, one line when it is back: between the
 * two, requests that need a session answer 500 and /readyz 503. While it is down, each
 * new reason it stays down (refused, a password no longer accepted) is said once. "Back"
 * means a PING was answered: the client calls itself ready before its AUTH is answered.
 */
function watchConnection(client: RedisClient, label: string, log: Logger, stopping: AbortSignal): () => void {
  let lost = false;
  const said = new Set<string>();
  const onClose = () => {
    // serve's own stop closes the connection too.
    if (lost || stopping.aborted) return;
    lost = true;
    said.clear();
    log.warn(`lost the connection to Redis ${label}: reconnecting; requests that need a session fail until it is back`);
  };
  const onError = (err: unknown) => {
    if (!lost || stopping.aborted) return;
    const reason = errorMessage(err);
    // A refused AUTH and the commands refused behind it (WRONGPASS, then NOAUTH) are one reason.
    const credentials = /^(NOAUTH|WRONGPASS) /.test(reason);
    const kind = credentials ? 'credentials' : reason;
    if (said.has(kind)) return;
    said.add(kind);
    log.warn(
      credentials
        ? `Redis ${label} is not back yet: it no longer accepts serve's credentials (${reason}): its password or ACL user changed; set the new one in the Redis URL and restart serve`
        : `Redis ${label} is not back yet: ${reason}`,
    );
  };
  const onReady = () => {
    if (!lost) return;
    client.ping().then(
      () => {
        if (!lost) return;
        lost = false;
        log.info(`reconnected to Redis ${label}`);
      },
      onError,
    );
  };
  client.on('close', onClose).on('ready', onReady).on('error', onError);
  return () => client.off('close', onClose).off('ready', onReady).off('error', onError);
}
