/**
 * The bus between dispatch and process: a Redis list of queue row ids. It holds no state
 * the database does not: a message lost with Redis is recovered by the lease, and a
 * message delivered twice finds its row no longer 'dispatched' and is ignored.
 */
import { settingSources } from '../config/settings.js';
import { ConfigError, isWrongType } from '../errors.js';
import type { RedisClient } from '../redis/redis.js';
import { appendToList } from '../redis/redis-writer.js';

export class RescopeBus {
  constructor(
    private readonly client: RedisClient,
    readonly key: string,
  ) {}

  push(ids: readonly number[]): Promise<void> {
    return appendToList(this.client, this.key, ids).catch(this.named);
  }

  /** Takes up to `count` messages from the head (LPOP with a count: Redis 6.2 or later). */
  async pop(count: number): Promise<string[]> {
    return (await this.client.lpop(this.key, count).catch(this.named)) ?? [];
  }

  /**
   * Like pop, but when the bus is empty keeps looking every `pollMs` for up to `waitMs`
   * before giving up (a worker that lingers for work instead of exiting at once).
   */
  async popWaiting(count: number, waitMs: number, signal?: AbortSignal, pollMs = 100): Promise<string[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const messages = await this.pop(count);
      if (messages.length > 0 || Date.now() >= deadline || signal?.aborted) return messages;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
    }
  }

  length(): Promise<number> {
    return this.client.llen(this.key).catch(this.named);
  }

  /** Redis's WRONGTYPE names no key: the bus names its own, and the setting that names it. */
  private readonly named = (err: unknown): never => {
    if (!isWrongType(err)) throw err;
    throw new ConfigError(
      `the bus key ${this.key} holds another kind of value than a list of queue row ids: another program uses the same name; ` +
        `give mtc-batch a key of its own (${settingSources('busKey')}); the rows stay queued (or go back to the queue when their lease expires)`,
      { cause: err },
    );
  };
}

/** A bus message as a queue row id, or null when it is not one (messages come from outside). */
export function parseBusMessage(message: string): number | null {
  if (!/^[1-9]\d{0,15}$/.test(message)) return null;
  const id = Number(message);
  return Number.isSafeInteger(id) ? id : null;
}
