/** A real `serve` HTTP server on a free loopback port, for one test, and a small client for it. */
import type { ExecutionContext } from 'ava';
import { PassThrough } from 'node:stream';
import type { Database } from '../../src/db/database.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import type { MetricsOptions } from '../../src/http/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import type { RedisClient } from '../../src/redis/redis.js';

export interface Answer {
  status: number;
  text: string;
  headers: Headers;
  json<T = Record<string, unknown>>(): T;
}

export interface TestServer {
  server: RunningServer;
  /** The JSON log records the server wrote so far. */
  logs(): Array<Record<string, unknown>>;
  request(path: string, init?: { method?: string; token?: string | null; authorization?: string; body?: string | Buffer; contentType?: string | null }): Promise<Answer>;
  get(path: string, token?: string | null): Promise<Answer>;
  post(path: string, body: unknown, token: string): Promise<Answer>;
}

export async function testServer(t: ExecutionContext, deps: { db: Database; redis: RedisClient; sessionPrefix: string; metrics?: MetricsOptions; headersTimeoutMs?: number; stopGraceMs?: number }): Promise<TestServer> {
  const stream = new PassThrough();
  const lines: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  const log = createLogger({ format: 'json', level: 'debug', stream, base: { command: 'serve' } });
  const server = await startServer({ ...deps, log }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.stop());
  const request: TestServer['request'] = async (path, init = {}) => {
    const headers: Record<string, string> = {};
    if (init.authorization !== undefined) headers.authorization = init.authorization;
    else if (init.token) headers.authorization = `Token ${init.token}`;
    if (init.contentType) headers['content-type'] = init.contentType;
    const response = await fetch(`${server.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
    const text = await response.text();
    return { status: response.status, text, headers: response.headers, json: <T>() => JSON.parse(text) as T };
  };
  return {
    server,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    request,
    get: (path, token) => request(path, { token }),
    post: (path, body, token) => request(path, { method: 'POST', token, body: JSON.stringify(body), contentType: 'application/json' }),
  };
}

/** The Fetch path with its query. */
export function fetchPath(q: { courseId?: string; classId?: string | null; userId?: string }, version = 'v1'): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string') params.append(k, v);
  return `/api/rescope/${version}/scope/skipped?${params.toString()}`;
}

export const rescopePath = '/api/rescope/v1/scope/skipped';
