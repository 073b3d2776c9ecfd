/**
 * What one run of a command holds: its configuration, its logger, and the database and
 * Redis connections, opened on first use and always closed at the end.
 */
import type { Config } from './config/settings.js';
import type { Database } from './db/database.js';
import type { Logger } from './log/logger.js';
import type { OpenRedisOptions, RedisHandle } from './redis/redis.js';

export interface RuntimeOptions {
  /** Aborted on SIGTERM/SIGINT: long commands stop taking work and wind down. */
  signal?: AbortSignal;
  /**
   * What the command needs of the database: `migrated` (the default) refuses a missing
   * SQLite file or a schema that is not migrated, with a message saying to run migrate;
   * `create` (migrate) may create the file and needs no schema.
   */
  database?: 'migrated' | 'create';
}

export class Runtime {
  private dbPromise: Promise<Database> | undefined;
  private redisPromise: Promise<RedisHandle> | undefined;
  readonly signal: AbortSignal;
  private readonly database: 'migrated' | 'create';

  constructor(
    readonly config: Readonly<Config>,
    readonly log: Logger,
    options: RuntimeOptions = {},
  ) {
    this.signal = options.signal ?? new AbortController().signal;
    this.database = options.database ?? 'migrated';
  }

  /** The database, opened (and checked) on first call. */
  db(options: { poolSize?: number } = {}): Promise<Database> {
    // Loaded on first use: knex and ioredis are most of a command's start-up time.
    this.dbPromise ??= quiet(
      import('./db/database.js').then(({ openDatabase }) =>
        openDatabase(this.config, { ...options, log: this.log, create: this.database === 'create', requireSchema: this.database === 'migrated' }),
      ),
    );
    return this.dbPromise;
  }

  /** Redis, opened (and checked) on first call; `options` apply to that first call. */
  redis(options: OpenRedisOptions = {}): Promise<RedisHandle> {
    this.redisPromise ??= quiet(import('./redis/redis.js').then(({ openRedis }) => openRedis(this.config, options)));
    return this.redisPromise;
  }

  /**
   * The database and Redis, opened at the same time (a command that needs both waits for
   * the slower, not for the sum). Either failure is the command's failure.
   */
  async both(options: { poolSize?: number } = {}): Promise<[Database, RedisHandle]> {
    return Promise.all([this.db(options), this.redis()]);
  }

  /** Closes whatever was opened; never throws (a close failure is logged). */
  async close(): Promise<void> {
    const closing = [this.dbPromise, this.redisPromise].map(async (p) => {
      if (!p) return;
      try {
        await (await p).close();
      } catch (err) {
        // An open that failed has nothing to close; a close that failed is only logged.
        if (await p.then(() => true, () => false)) this.log.warn('closing a connection failed', { error: String(err) });
      }
    });
    await Promise.all(closing);
  }
}

/**
 * A connection promise may be started early and awaited late (the Redis handshake runs
 * while the database answers): marking it handled keeps a failure that arrives first
 * from becoming an unhandled rejection. Whoever awaits it still gets the error.
 */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
