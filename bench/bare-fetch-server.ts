/**
 * The baseline of bench/serve-bench.ts: a bare `node:http` handler doing the minimum the
 * same 200 answer needs, and nothing else (no framework, no logs, no metrics, no checks
 * beyond the access rule's allowed path): parse the URL, take the token from
 * `Authorization: Token …`, GET the session and EXPIRE it, read the access facts with the
 * content in the same ONE SQL statement serve sends (pg directly, no knex), decide, answer.
 *
 * Configured by environment: DATABASE_URL, MTC_BATCH_DATABASE_SCHEMA, REDIS_URL,
 * MTC_BATCH_SESSION_PREFIX, BARE_PORT. Prints "listening <port>" when ready.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import pg from 'pg';
import { dialects } from '../src/db/dialect.js';
import { fetchStatements } from '../src/rescope/fetch-facts.js';

const env = process.env;
const schema = env.MTC_BATCH_DATABASE_SCHEMA ?? 'public';
const prefix = env.MTC_BATCH_SESSION_PREFIX ?? '';

// The statement serve sends, with PostgreSQL's $n placeholders.
const quoting = knexFactory({ client: 'pg' });
let n = 0;
const sql = fetchStatements({ knex: quoting, dialect: dialects.postgres, display: '', schema, close: async () => undefined }).inClass.replace(/\?/g, () => `$${++n}`);
await quoting.destroy();

const pool = new pg.Pool({
  connectionString: env.DATABASE_URL,
  max: 10,
  options: `-c search_path=${schema}`,
  // JSON as text, as serve reads it: the stored document goes out byte for byte.
  types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 114 ? (v: string) => v : pg.types.getTypeParser(oid, format ?? 'text')) },
});
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Token ')) return void res.writeHead(401).end();
    const key = prefix + auth.slice(6);
    const raw = await redis.get(key);
    const session = raw === null ? null : (JSON.parse(raw) as { user_id?: string; access_token_validity?: number });
    const caller = session?.user_id;
    if (!caller || !uuid.test(caller)) return void res.writeHead(401).end();
    await redis.expire(key, session.access_token_validity ?? 3600);
    const courseId = url.searchParams.get('courseId')!;
    const classId = url.searchParams.get('classId')!;
    const target = url.searchParams.get('userId') ?? caller;
    const { rows } = await pool.query(sql, [target, caller, target, courseId, classId, classId]);
    const row = rows[0] as Record<string, unknown> | undefined;
    const allowed =
      row && !row.is_deleted && row.course_id === courseId && row.target_is_member === 1 && (caller === target || caller === row.creator_id || row.caller_is_collaborator === 1) && row.rescope;
    if (!allowed) return void res.writeHead(403).end();
    if (row.content === null) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(row.content as string);
  } catch {
    res.writeHead(500).end();
  }
});
server.listen(Number(env.BARE_PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  void pool.end();
});
