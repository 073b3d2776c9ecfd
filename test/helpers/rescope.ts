/** A migrated database, a Redis prefix and a bus for one rescope test, plus readers for assertions. */
import type { ExecutionContext } from 'ava';
import type { Database } from '../../src/db/database.js';
import { toNumber, toUuid } from '../../src/db/values.js';
import { RescopeBus } from '../../src/rescope/bus.js';
import { type EnqueueInput, enqueue } from '../../src/rescope/enqueue.js';
import { parseEnqueueRequest } from '../../src/rescope/enqueue-request.js';
import { type LiveDialect, type Target, type TestDatabase, migratedDatabase } from './databases.js';
import { type TestRedis, isolatedRedis } from './redis.js';

export interface RescopeFixture {
  tdb: TestDatabase;
  db: Database;
  redis: TestRedis;
  bus: RescopeBus;
  /** Environment for a CLI run against this database, Redis and bus. */
  env: Record<string, string>;
}

export async function rescopeFixture(t: ExecutionContext, target: LiveDialect | Target): Promise<RescopeFixture> {
  const { dialect, redis: kind } = typeof target === 'string' ? { dialect: target, redis: 'single' as const } : target;
  const { tdb, db } = await migratedDatabase(t, dialect);
  const redis = await isolatedRedis(t, kind);
  const bus = new RescopeBus(redis.client, `${redis.prefix}bus`);
  return { tdb, db, redis, bus, env: { ...tdb.env, REDIS_URL: redis.url, MTC_BATCH_BUS_KEY: bus.key } };
}

/** Queues requests given as the JSON objects of the API (throws on a malformed one). */
export async function enqueueRequests(db: Database, ...requests: object[]) {
  const inputs: EnqueueInput[] = requests.map((r, i) => {
    const parsed = parseEnqueueRequest(r);
    if (!parsed.ok) throw new Error(parsed.error);
    return { line: i + 1, request: parsed.value };
  });
  return enqueue(db, inputs);
}

export interface QueueRow {
  id: number;
  userId: string;
  courseId: string;
  classId: string | null;
  source: string;
  priority: number;
  status: string | null;
  attempts: number;
  lastError: string | null;
}

export async function queueRows(db: Database): Promise<QueueRow[]> {
  const rows: Array<Record<string, unknown>> = await db.knex('rescope_queue').select('*').orderBy('id');
  return rows.map((r) => ({
    id: toNumber(r.id),
    userId: toUuid(r.user_id),
    courseId: toUuid(r.course_id),
    classId: r.class_id === null ? null : toUuid(r.class_id),
    source: String(r.source),
    priority: toNumber(r.priority),
    status: r.status === null ? null : String(r.status),
    attempts: toNumber(r.attempts),
    lastError: r.last_error === null ? null : String(r.last_error),
  }));
}

export async function contentRows(db: Database): Promise<Array<{ userId: string; courseId: string; classId: string | null; content: Record<string, string[]> }>> {
  const rows: Array<Record<string, unknown>> = await db.knex('rescoped_content').select('*').orderBy('id');
  return rows.map((r) => ({
    userId: toUuid(r.user_id),
    courseId: toUuid(r.course_id),
    classId: r.class_id === null ? null : toUuid(r.class_id),
    content: (typeof r.skipped_content === 'string' ? JSON.parse(r.skipped_content) : r.skipped_content) as Record<string, string[]>,
  }));
}

/** Makes storing content fail for one learner (a trigger raising an error), as a broken row would. */
export async function failStorageFor(db: Database, dialect: LiveDialect, userId: string): Promise<void> {
  if (dialect === 'postgres') {
    await db.knex.raw(`CREATE FUNCTION refuse_learner() RETURNS trigger AS $$
      BEGIN IF NEW.user_id = '${userId}' THEN RAISE EXCEPTION 'simulated storage failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await db.knex.raw('CREATE TRIGGER refuse_learner BEFORE INSERT ON rescoped_content FOR EACH ROW EXECUTE FUNCTION refuse_learner()');
  } else {
    await db.knex.raw(`CREATE TRIGGER refuse_learner BEFORE INSERT ON rescoped_content
      WHEN NEW.user_id = '${userId}' BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END`);
  }
}
