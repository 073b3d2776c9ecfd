import type { ExecutionContext } from 'ava';
import type { Database } from '../../src/db/database.js';
import type { NotificationFormat, SchoolNotification } from '../../src/notifications/notification.js';
import { type LiveDialect, type Target, type TestDatabase, migratedDatabase } from './databases.js';
import { type TestRedis, isolatedRedis } from './redis.js';

/**
 * Reads a stored entry exactly as MTC's Redis cache services do (the admin app's and
 * tslib's `get`): parse the entry, switch on `meta.type`, and for "object" parse `value`;
 * any other shape throws (a bare object has no `meta`: a TypeError, as in the admin app).
 * Written here on its own, not shared with the toolkit, so the two cannot agree on a mistake.
 */
export function readLikeMtc(entry: string): unknown {
  const parsed = JSON.parse(entry) as { meta: { type: string }; value: string };
  switch (parsed.meta.type) {
    case 'string':
      return parsed.value;
    case 'number':
      return Number(parsed.value);
    case 'object':
      return JSON.parse(parsed.value) as unknown;
    default:
      throw new Error(`unknown cache entry type ${String(parsed.meta.type)}`);
  }
}

export interface NotificationFixture {
  tdb: TestDatabase;
  db: Database;
  redis: TestRedis;
  options: { overdueAfterMinutes: number; notificationTtlSeconds: number; notificationPrefix: string; notificationIndexKey: string; notificationFormat: NotificationFormat };
  env: Record<string, string>;
  /** The school's entry as the admin app reads it (MTC's cache format), or null. */
  read(schoolUuid: string): Promise<SchoolNotification | null>;
  /** The school's entry as stored, or null. */
  raw(schoolUuid: string): Promise<string | null>;
  key(schoolUuid: string): string;
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
    notificationFormat: 'mtc' as NotificationFormat,
  };
  // The format is left to its default (mtc) in the CLI's environment.
  const env = {
    ...tdb.env,
    REDIS_URL: redis.url,
    MTC_BATCH_NOTIFICATION_PREFIX: options.notificationPrefix,
    MTC_BATCH_NOTIFICATION_INDEX_KEY: options.notificationIndexKey,
  };
  const key = (schoolUuid: string) => `${options.notificationPrefix}${schoolUuid}`;
  const raw = (schoolUuid: string) => redis.client.get(key(schoolUuid));
  const read = async (schoolUuid: string) => {
    const entry = await raw(schoolUuid);
    return entry === null ? null : (readLikeMtc(entry) as SchoolNotification);
  };
  return { tdb, db, redis, options, env, read, raw, key };
}
