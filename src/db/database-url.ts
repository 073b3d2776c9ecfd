/**
 * DATABASE_URL → dialect and knex connection settings. Kept apart from opening the
 * connection so it can be unit-tested and so the SQL Server path is exercised here
 * even though no SQL Server runs on the test machines.
 */
import { userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import pgTypes from 'pg-types';
import { ConfigError } from '../errors.js';
import { maskUrl } from '../config/settings.js';
import { type Dialect, dialects } from './dialect.js';

export interface DatabaseTarget {
  dialect: Dialect;
  /** knex `connection` value. */
  connection: Record<string, unknown>;
  /** The URL with its password masked, for messages. */
  display: string;
  /** SQLite only: absolute path of the database file, or ':memory:'. */
  file?: string;
}

// JSON columns come back as the text stored (the content is served exactly as stored),
// for this toolkit's connections only, not for every pg client in the process.
const jsonOid = 114;
function jsonAsText(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  return oid === jsonOid ? (value: string) => value : pgTypes.getTypeParser(oid, format ?? 'text');
}

/**
 * The user a PostgreSQL URL without one connects as: PGUSER, else USER (node-postgres's
 * own defaults), else the login's name, as psql falls back to. node-postgres stops at USER,
 * which containers and cron often leave unset, and the server then answers "no PostgreSQL
 * user name specified".
 */
function defaultPostgresUser(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PGUSER) return env.PGUSER;
  if (env.USER) return env.USER;
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined; // a uid without a passwd entry: nothing to fall back to
  }
}

export function parseDatabaseUrl(url: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): DatabaseTarget {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new ConfigError('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./mtc-batch.sqlite');
    const file = path === ':memory:' ? path : isAbsolute(path) ? path : resolve(cwd, path);
    return { dialect: dialects.sqlite, connection: { filename: file }, display: url, file };
  }

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`DATABASE_URL is not a valid URL: ${maskUrl(url)}`);
  }
  const display = maskUrl(url);

  if (parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:') {
    // The user goes in the query string (?user=), which node-postgres reads for URLs with
    // and without a host (a socket given as ?host= takes no user name before the host).
    let connectionString = url;
    const given = parsed.username !== '' || (parsed.searchParams.get('user') ?? '') !== '';
    const user = given ? undefined : defaultPostgresUser(env);
    if (user !== undefined) {
      parsed.searchParams.set('user', user);
      connectionString = parsed.toString();
    }
    return {
      dialect: dialects.postgres,
      connection: { connectionString, connectionTimeoutMillis: 10_000, types: { getTypeParser: jsonAsText } },
      display,
    };
  }

  if (parsed.protocol === 'mssql:') {
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!parsed.hostname || !database) {
      throw new ConfigError(`DATABASE_URL for SQL Server needs a host and a database: mssql://user:pass@host:1433/db (got ${display})`);
    }
    const flag = (name: string, fallback: boolean) => {
      const v = parsed.searchParams.get(name);
      return v === null ? fallback : v === 'true' || v === '1';
    };
    return {
      dialect: dialects.mssql,
      connection: {
        server: parsed.hostname,
        port: parsed.port ? Number(parsed.port) : 1433,
        user: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
        database,
        requestTimeout: 120_000,
        connectionTimeout: 10_000,
        options: {
          encrypt: flag('encrypt', true),
          trustServerCertificate: flag('trustServerCertificate', false),
          // The queue's claims rely on READPAST, which SNAPSHOT isolation refuses: READ
          // COMMITTED for transactions and for the statements outside them, whatever the
          // server's default.
          isolationLevel: 2 /* READ_COMMITTED */,
          connectionIsolationLevel: 2 /* READ_COMMITTED */,
        },
      },
      display,
    };
  }

  throw new ConfigError(`DATABASE_URL scheme ${parsed.protocol} is not supported; use sqlite:, postgres:// or mssql://`);
}
