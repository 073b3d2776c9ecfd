/**
 * What one run of a command holds: its configuration, its logger, and the database and
 * Redis connections, opened on first use and always closed at the end.
 */
import type { Config } from './config/settings.js';
import type { Database } from './db/database.js';
import type { Logger } from './log/logger.js';
import type { OpenRedisOptions, RedisHandle } from './redis/redis.js';

export class Runtime {
  private dbPromise: Promise<Database> | undefined;
  private redisPromise: Promise<RedisHandle> | undefined;

  constructor(
    readonly config: Readonly<Config>,
    readonly log: Logger,
    /** Aborted on SIGTERM/SIGINT: long commands stop taking work and wind down. */
    readonly signal: AbortSignal = new AbortController().signal,
  ) {}

  /** The database, opened (and checked) on first call. */
  db(options: { poolSize?: number } = {}): Promise<Database> {
    // Loaded on first use: knex and ioredis are most of a command's start-up time.
    this.dbPromise ??= import('./db/database.js').then(({ openDatabase }) => openDatabase(this.config, { ...options, log: this.log }));
    return this.dbPromise;
  }

  /** Redis, opened (and checked) on first call; `options` apply to that first call. */
  redis(options: OpenRedisOptions = {}): Promise<RedisHandle> {
    this.redisPromise ??= import('./redis/redis.js').then(({ openRedis }) => openRedis(this.config, options));
    return this.redisPromise;
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
