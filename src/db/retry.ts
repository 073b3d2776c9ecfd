import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Dialect } from './dialect.js';

export interface RetryOptions {
  attempts?: number;
  /** First pause in ms; doubles each time, with jitter. */
  baseDelayMs?: number;
}

/**
 * Runs `fn` (a whole transaction) again when the database reports a conflict that a
 * retry cures: SQLite's busy lock, a deadlock victim, a serialisation failure. Any other
 * error, or the last attempt's, is thrown as it is.
 */
export async function withRetry<T>(
  dialect: Dialect,
  log: Logger,
  what: string,
  fn: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !dialect.isRetryableConflict(err)) throw err;
      const delay = Math.round(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
      log.debug(`${what}: database conflict, retrying in ${delay} ms`, { attempt, error: errorMessage(err) });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
