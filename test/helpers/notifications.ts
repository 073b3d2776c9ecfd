import type { ExecutionContext } from 'ava';
import type { Database } from '../../src/db/database.js';
import type { SchoolNotification } from '../../src/notifications/notification.js';
import { type LiveDialect, type Target, type TestDatabase, migratedDatabase } from './databases.js';
import { type TestRedis, isolatedRedis } from './redis.js';

export interface NotificationFixture {
  tdb: TestDatabase;
  db: Database;
  redis: TestRedis;
  options: { overdueAfterMinutes: number; notificationTtlSeconds: number; notificationPrefix: string; notificationIndexKey: string };
  env: Record<string, string>;
  /** The school's notification, parsed, or null. */
  read(schoolUuid: string): Promise<SchoolNotification | null>;
}

export async function notificationFixture(t: ExecutionContext, target: LiveDialect | Target): Promise<NotificationFixture> {
  const { dialect, redis: kind } = typeof target === 'string' ? { dialect: target, redis: 'single' as const } : target;
  const { tdb, db } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t, kind);
  const options = {
    overdueAfterMinutes: 1440,
    notificationTtlSeconds: 3900,
    notificationPrefix: `${redis.prefix}school.home.overdue:`,
    notificationIndexKey: `${redis.prefix}{overdue}:notified`,
  };
  const env = {
    ...tdb.env,
    REDIS_URL: redis.url,
    MTC_BATCH_NOTIFICATION_PREFIX: options.notificationPrefix,
    MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey,
  };
  const read = async (schoolUuid: string) => {
    const raw = await redis.client.get(`${options.notificationPrefix}${schoolUuid}`);
    return raw === null ? null : (JSON.parse(raw) as SchoolNotification);
  };
  return { tdb, db, redis, options, env, read };
}
