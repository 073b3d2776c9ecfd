/**
 * Each test gets its own Redis key prefix; its keys are removed when it ends. Only tests
 * scan for keys: the toolkit itself never does.
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';

export const redisUrl = process.env.MTC_BATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  client: Redis;
  prefix: string;
  url: string;
}

export async function isolatedRedis(t: ExecutionContext): Promise<TestRedis> {
  const prefix = `test:${randomBytes(5).toString('hex')}:`;
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  t.teardown(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await client.quit();
  });
  return { client, prefix, url: redisUrl };
}
