/**
 * Typed errors and the exit codes they map to. Every command shares these codes; the
 * top-level handler in `cli/main.ts` is the only place that turns an error into an exit.
 */

export const ExitCode = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  forbidden: 4,
  notApplicable: 5,
  partial: 6,
});

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Human descriptions, in the order `--help` and the README list them. */
export const exitCodeDescriptions: ReadonlyArray<readonly [ExitCodeValue | '129, 130, 143', string]> = [
  [ExitCode.ok, 'ok'],
  [ExitCode.failure, 'failure: database or Redis unreachable, input interrupted by a signal before its end, or a bug'],
  [ExitCode.usage, 'usage or configuration error (bad flag, setting or id; schema not migrated)'],
  [ExitCode.notFound, 'not found'],
  [ExitCode.forbidden, 'unauthorised or forbidden'],
  [ExitCode.notApplicable, 'not applicable (e.g. rescope is off for the class or course)'],
  [ExitCode.partial, 'partial: some inputs were rejected, the rest were done'],
  ['129, 130, 143', 'stopped at once by a second SIGHUP, SIGINT or SIGTERM, or still busy 24 s after the first (with --json, stdout still holds one error object); the message says what that left: for process and dispatch, unfinished rows return to the queue when their lease expires'],
];

export interface MtcErrorOptions {
  cause?: unknown;
  /** Extra facts for logs and `--json` output, e.g. the setting that was wrong. */
  details?: Record<string, unknown>;
}

/** Base class: carries the exit code and a short machine-readable code. */
export class MtcError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(message: string, exitCode: ExitCodeValue, code: string, options: MtcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** A bad flag, argument or input value. */
export class UsageError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.usage, 'usage', options);
  }
}

/** A bad setting (config file, environment or flag). */
export class ConfigError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.usage, 'config', options);
  }
}

/** The database schema is missing or behind: the fix is `mtc-batch migrate`. */
export class SchemaError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.usage, 'schema', options);
  }
}

export class NotFoundError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.notFound, 'not-found', options);
  }
}

/** No valid session: the caller is not known. */
export class UnauthorisedError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.forbidden, 'unauthorised', options);
  }
}

/** The caller is known but an access rule refuses them. */
export class ForbiddenError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.forbidden, 'forbidden', options);
  }
}

export class NotApplicableError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.notApplicable, 'not-applicable', options);
  }
}

/** The database or Redis could not be reached; the message names the target (password masked). */
export class ConnectionError extends MtcError {
  constructor(message: string, options?: MtcErrorOptions) {
    super(message, ExitCode.failure, 'connection', options);
  }
}

/** The statement each failed database call ran (see noteStatement). */
const statements = new WeakMap<object, string>();

/**
 * Records the statement `err` came from: knex writes the whole statement before the
 * database's own message (`<statement> - <message>`, hundreds of characters for the
 * queue's statements), which would bury the cause in every log line and stored error.
 */
export function noteStatement(err: unknown, sql: string): void {
  if (err !== null && typeof err === 'object') statements.set(err, sql);
}

/** A database error's own message, and the statement knex put before it (null when none). */
export function statementCause(err: unknown): { cause: string; statement: string } | null {
  if (!(err instanceof Error)) return null;
  const statement = statements.get(err);
  if (statement === undefined || !err.message.startsWith(`${statement} - `)) return null;
  return { cause: err.message.slice(statement.length + 3), statement };
}

/** The first words of a statement, to tell one from another in a message. */
function statementStart(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length <= 60 ? flat : `${flat.slice(0, 60).trimEnd()} …`;
}

/**
 * The message of an unknown thrown value, without assuming it is an Error. A database
 * error reads as its own message first, then the start of its statement.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    // Node reports "connect ECONNREFUSED" for each address family in an AggregateError
    // whose own message is empty.
    return err.message || errorMessage(err.errors[0]);
  }
  const fromStatement = statementCause(err);
  if (fromStatement) return `${fromStatement.cause} (in ${statementStart(fromStatement.statement)})`;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** A Redis connection of our own (not ioredis's) lost under a command; the message is the reason. */
export class RedisConnectionLost extends Error {
  override name = 'RedisConnectionLost';
}

/**
 * Whether `err` says a connection that was working went away (the server restarted or
 * killed it), and which one: the jobs are built so the next run repairs such a stop.
 */
export function lostConnection(err: unknown): { service: 'database' | 'redis'; reason: string } | null {
  const message = errorMessage(err);
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  // PostgreSQL's admin shutdown / crash / connection failure classes, and a socket reset
  // under a query (ioredis reports its own as "Connection is closed"); knex prefixes the SQL.
  if (['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE'].includes(code) || /Connection terminated/.test(message)) {
    return { service: 'database', reason: statementCause(err)?.cause ?? message };
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (err instanceof RedisConnectionLost) return { service: 'redis', reason: message };
  if (name === 'MaxRetriesPerRequestError' || /^Connection is closed\.?$/.test(message) || /Stream isn't writeable/.test(message)) {
    return { service: 'redis', reason: 'it stopped answering and did not come back while the job retried' };
  }
  // The connection came back but the server no longer takes its credentials: the password
  // or the ACL user was changed (or removed) while the job ran.
  // (A server that has not authenticated a connection refuses a long command as a protocol
  // error: ioredis re-sent one on the reconnect before its AUTH was refused.)
  if (/^(NOAUTH|WRONGPASS) /.test(message) || /^ERR Protocol error: unauthenticated /.test(message)) {
    return { service: 'redis', reason: `it reconnected, but no longer accepts the job's credentials (${message}): its password or ACL user changed while the job ran; set the new one in the Redis URL` };
  }
  // ioredis's cluster client when a node went away under it (it follows MOVED to the dead
  // node, or finds no node for a slot), and a cluster refusing commands while it fails.
  if (name === 'ClusterAllFailedError' || /^Too many Cluster redirections/.test(message) || /^CLUSTERDOWN /.test(message) || /while the cluster is down/.test(message)) {
    return { service: 'redis', reason: `a node of the Redis Cluster stopped answering, or the cluster is failing (${message})` };
  }
  return null;
}

/** Redis refused a command because its key holds another kind of value (WRONGTYPE). */
export function isWrongType(err: unknown): boolean {
  return /^WRONGTYPE /.test(errorMessage(err));
}

/** What a Redis client that is not connected (reconnecting) is said to be. */
export const redisNotConnected = 'not connected (reconnecting; the request was not sent)';

/**
 * A failed Redis command of a long-running client, in words an operator acts on (ioredis's
 * own messages name neither Redis nor the cause: "Reached the max retries per request
 * limit", "Command timed out").
 */
export function redisFailure(err: unknown): string {
  const message = errorMessage(err);
  if (lostConnection(err)?.service === 'redis') return redisNotConnected;
  if (/^Command timed out/.test(message)) return 'no reply within the command timeout';
  if (/^(NOAUTH|WRONGPASS)/.test(message)) return `refused the credentials: ${message}`;
  return message;
}
