/**
 * Opening Redis for a one-shot job: fail fast with one clear line when it is not there,
 * tolerate a brief blip once connected, and never hang a CronJob on reconnects.
 */
import { Redis } from 'ioredis';
import { ConnectionError, errorMessage } from '../errors.js';
import { maskUrl } from '../config/settings.js';
import type { Config } from '../config/settings.js';

export interface RedisHandle {
  readonly client: Redis;
  /** Masked URL, for messages. */
  readonly display: string;
  close(): Promise<void>;
}

export async function openRedis(config: Pick<Config, 'redisUrl'>): Promise<RedisHandle> {
  const display = maskUrl(config.redisUrl);
  let lastError: unknown;
  const client = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: 5_000,
    // A command waits through at most one reconnect, then fails the job rather than hang.
    maxRetriesPerRequest: 1,
    // No retries while connecting: an unreachable Redis is reported at once.
    retryStrategy: () => null,
  });
  client.on('error', (err) => {
    lastError = err;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new ConnectionError(`cannot connect to Redis ${display}: ${errorMessage(lastError ?? err)}`, { cause: lastError ?? err });
  }
  // Connected: from now on a dropped connection is retried briefly.
  client.options.retryStrategy = (times: number) => (times > 3 ? null : times * 200);
  let closed = false;
  return {
    client,
    display,
    async close() {
      if (closed) return;
      closed = true;
      // Every command has had its reply by now: QUIT would only add a round trip.
      client.disconnect();
    },
  };
}
