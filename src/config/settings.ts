/**
 * The table of every setting: its default, where it may come from, and how it is
 * validated. `--help`, the README and the loader are all driven by this table, so a
 * setting cannot be documented in one place and forgotten in another.
 */
import { ConfigError, errorMessage } from '../errors.js';
import { parseClusterUrl } from '../redis/redis-url.js';
import { credentialProblem, maskUrl, queryStart, redisDatabaseNumber } from './urls.js';

export type LogFormat = 'auto' | 'human' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** How a school notification is stored: in MTC's cache envelope, or as the bare object. */
export type NotificationFormat = 'mtc' | 'plain';

export interface Config {
  databaseUrl: string;
  databaseSchema: string | null;
  redisUrl: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
  batchSize: number;
  leaseSeconds: number;
  maxAttempts: number;
  retryDelaySeconds: number;
  concurrency: number;
  busKey: string;
  sessionPrefix: string;
  overdueAfterMinutes: number;
  notificationTtlSeconds: number;
  notificationPrefix: string;
  notificationIndexKey: string;
  serveHost: string;
  servePort: number;
  notificationFormat: NotificationFormat;
  overdueSyncLockSeconds: number;
}

export type SettingKey = keyof Config;

export interface SettingSpec<K extends SettingKey = SettingKey> {
  key: K;
  /** Environment variable that sets it. */
  env: string;
  /** Command-line flag, when it is not the setting's name in kebab case. */
  flag?: string;
  description: string;
  default: Config[K];
  /** Parses a raw value (string from env/flags, any JSON value from the file). `where` names the source. */
  parse(raw: unknown, where: string): Config[K];
}

function describe(raw: unknown): string {
  // A number as read from the file (1e400 is Infinity), not as JSON.stringify writes it ("null", and "0" for -0).
  if (typeof raw === 'number') return Object.is(raw, -0) ? '-0' : String(raw);
  return typeof raw === 'string' ? JSON.stringify(raw) : JSON.stringify(raw) ?? String(raw);
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (raw: unknown, where: string): T => {
    if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
    throw new ConfigError(`${where} must be one of ${allowed.join(', ')}; got ${describe(raw)}`);
  };
}

function nonEmptyString(raw: unknown, where: string): string {
  if (typeof raw === 'string' && raw.trim() !== '') return raw.trim();
  throw new ConfigError(`${where} must be a non-empty string; got ${describe(raw)}`);
}

/**
 * Integer parser bounded to [min, max]; accepts numbers from JSON and strings of plain
 * digits. A string is taken as written or refused: " 8080", "+80", "-0" or "010" (octal to
 * a shell or YAML 1.1) is a value mangled on its way, not one to read past.
 */
export function integerIn(min: number, max: number) {
  return (raw: unknown, where: string): number => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^(0|-?[1-9]\d*)$/.test(raw) ? Number(raw) : NaN;
    // `+ 0`: a JSON -0 is the number 0.
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n + 0;
    // A number in range written otherwise: say what is wrong with it, as the range is not.
    const near = typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : NaN;
    const hint = near >= min && near <= max ? ': digits only, without spaces, a sign or leading zeros' : '';
    throw new ConfigError(`${where} must be a whole number from ${min} to ${max}; got ${describe(raw)}${hint}`);
  };
}

/**
 * Key names and prefixes: printable ASCII without spaces, quotes, backslashes or `;`.
 * Redis would store any bytes, but a key name holding those is a pasting mistake (or
 * someone's injection text), and the ACL patterns operators write must match it.
 */
function redisKey(raw: unknown, where: string): string {
  const value = nonEmptyString(raw, where);
  if (!/^[\x21-\x7e]{1,200}$/.test(value) || /["'`;\\]/.test(value)) {
    throw new ConfigError(`${where} must be a Redis key of up to 200 printable characters without spaces, quotes, backslashes or ";"; got ${describe(value)}`);
  }
  return value;
}

/** A URL whose credentials or syntax would be misread fails here, naming the setting. */
function checkUrl(value: string, where: string): void {
  const problem = credentialProblem(value);
  if (problem) throw new ConfigError(`${where}: ${problem}; got ${describe(maskUrl(value))}`);
  if (/^[a-z]+:\/\//.test(value) && !URL.canParse(value.replace(/^(rediss?)\+cluster:/, '$1:').replace(/,.*$/, ''))) {
    throw new ConfigError(`${where} is not a valid URL; got ${describe(maskUrl(value))}`);
  }
}

const databaseUrlPattern = /^(sqlite:|postgres:\/\/|postgresql:\/\/|mssql:\/\/)/;

const settingList: SettingSpec[] = [
  {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    description: 'database: sqlite:<path>, postgres://user:pass@host:port/db or mssql://user:pass@host:port/db',
    default: 'sqlite:./mtc-batch.sqlite',
    parse(raw, where) {
      const value = nonEmptyString(raw, where);
      if (!databaseUrlPattern.test(value)) {
        throw new ConfigError(
          `${where} must start with sqlite:, postgres://, postgresql:// or mssql://; got ${describe(maskUrl(value))}`,
        );
      }
      if (/^sqlite:(\/\/)?$/.test(value)) throw new ConfigError(`${where} ${value} needs a file path, e.g. sqlite:./mtc-batch.sqlite`);
      if (!value.startsWith('sqlite:')) {
        checkUrl(value, where);
        // Without one the driver picks a default (the user's name, or master): migrate would
        // then create the toolkit's tables in whatever database that is.
        if (/^[a-z]+:\/\/[^/]*\/?(\?.*)?$/.test(value)) {
          throw new ConfigError(`${where} names no database: add it after the host, e.g. postgres://user:pass@host:5432/<database>; got ${describe(maskUrl(value))}`);
        }
      }
      return value;
    },
  },
  {
    key: 'databaseSchema',
    env: 'MTC_BATCH_DATABASE_SCHEMA',
    description: 'PostgreSQL schema to use (search_path); created by migrate. Unset: the server default',
    default: null,
    parse(raw, where) {
      if (raw === null) return null;
      const value = nonEmptyString(raw, where);
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
        const hint = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value)
          ? ` (PostgreSQL folds unquoted names to lower case, so psql and other clients would mean another schema: use ${describe(value.toLowerCase())})`
          : '';
        throw new ConfigError(`${where} must be a plain lower-case SQL identifier (a-z, digits, _)${hint}; got ${describe(value)}`);
      }
      return value;
    },
  },
  {
    key: 'redisUrl',
    env: 'REDIS_URL',
    description: 'Redis: redis://[user:pass@]host:port[/db], rediss:// for TLS, or redis+cluster://host1:port1,host2:port2 for a cluster',
    default: 'redis://127.0.0.1:6379',
    parse(raw, where) {
      const value = nonEmptyString(raw, where);
      if (!/^rediss?(\+cluster)?:\/\/[^/]/.test(value)) {
        throw new ConfigError(`${where} must start with redis://, rediss://, redis+cluster:// or rediss+cluster://; got ${describe(maskUrl(value))}`);
      }
      // ioredis would read a query string as connection options, some (password, tls)
      // honoured and some (db) not: the URL's own parts are the one way to say them.
      if (queryStart(value) !== null) {
        const form = /^rediss?\+cluster:/.test(value)
          ? 'write the credentials as user:pass@ before the hosts, e.g. redis+cluster://user:pass@host1:7000,host2:7001 (rediss+cluster:// for TLS)'
          : 'write the credentials as user:pass@ before the host and the database as /db after it, e.g. redis://user:pass@host:6379/2 (rediss:// for TLS)';
        throw new ConfigError(`${where} must not hold a query string or fragment ("?…", "#…"): ${form}; got ${describe(maskUrl(value))}`);
      }
      checkUrl(value, where);
      let cluster;
      try {
        cluster = parseClusterUrl(value);
      } catch (err) {
        throw new ConfigError(`${where}: ${errorMessage(err)}; got ${describe(maskUrl(value))}`);
      }
      if (!cluster) {
        const db = redisDatabaseNumber(value);
        if (db instanceof Error) throw new ConfigError(`${where} ${db.message}; got ${describe(maskUrl(value))}`);
      }
      return value;
    },
  },
  {
    key: 'logFormat',
    env: 'MTC_BATCH_LOG_FORMAT',
    description: 'log lines on stderr: human, json, or auto (human on a terminal, json otherwise)',
    default: 'auto',
    parse: oneOf(['auto', 'human', 'json'] as const),
  },
  {
    key: 'logLevel',
    env: 'MTC_BATCH_LOG_LEVEL',
    description: 'least severe log level shown: debug, info, warn or error (--verbose = debug, --quiet = warn)',
    default: 'info',
    parse: oneOf(['debug', 'info', 'warn', 'error'] as const),
  },
  {
    key: 'batchSize',
    env: 'MTC_BATCH_BATCH_SIZE',
    description: 'queue rows per batch: claimed by one dispatch, computed together by process',
    default: 1000,
    parse: integerIn(1, 50_000),
  },
  {
    key: 'leaseSeconds',
    env: 'MTC_BATCH_LEASE_SECONDS',
    description: 'a row dispatched or processing for longer than this is presumed lost and queued again',
    default: 600,
    parse: integerIn(1, 7 * 86_400),
  },
  {
    key: 'maxAttempts',
    env: 'MTC_BATCH_MAX_ATTEMPTS',
    description: "attempts before a row is marked failed and left for an operator",
    default: 5,
    parse: integerIn(1, 100),
  },
  {
    key: 'retryDelaySeconds',
    env: 'MTC_BATCH_RETRY_DELAY_SECONDS',
    description: 'wait before the first retry of a failed row; doubles each attempt, at most 1 hour',
    default: 30,
    parse: integerIn(0, 3600),
  },
  {
    key: 'concurrency',
    env: 'MTC_BATCH_CONCURRENCY',
    description: 'batches process works on at once (each needs a database connection)',
    default: 4,
    parse: integerIn(1, 64),
  },
  {
    key: 'busKey',
    env: 'MTC_BATCH_BUS_KEY',
    description: 'Redis list that carries dispatched queue ids to process',
    default: 'mtc-batch:rescope:bus',
    parse: redisKey,
  },
  {
    key: 'sessionPrefix',
    env: 'MTC_BATCH_SESSION_PREFIX',
    description: 'Redis key prefix of platform sessions: <prefix><token> holds {"user_id":"<uuid>",…}; the platform uses none',
    default: '',
    // Empty is the platform's own layout (the token is the key), so it is a value, not "unset".
    parse: (raw, where) => (raw === '' ? '' : redisKey(raw, where)),
  },
  {
    key: 'overdueAfterMinutes',
    env: 'MTC_BATCH_OVERDUE_AFTER_MINUTES',
    flag: '--overdue-minutes',
    description: 'a live check logged into this long ago and not received is overdue (2024: 24-48 h; before: 30 min)',
    default: 1440,
    parse: integerIn(1, 30 * 1440),
  },
  {
    key: 'notificationTtlSeconds',
    env: 'MTC_BATCH_NOTIFICATION_TTL_SECONDS',
    flag: '--ttl-seconds',
    description: 'lifetime of a school notification: a little longer than the overdue-sync interval',
    default: 3900,
    parse: integerIn(60, 30 * 86_400),
  },
  {
    key: 'notificationPrefix',
    env: 'MTC_BATCH_NOTIFICATION_PREFIX',
    description: 'Redis key prefix of school notifications: <prefix><school UUID>',
    default: 'school.home.overdue:',
    parse: redisKey,
  },
  {
    key: 'notificationIndexKey',
    env: 'MTC_BATCH_NOTIFICATION_INDEX_KEY',
    description: 'Redis set of the schools notified by the last overdue-sync (its {hash tag} keeps its helpers on one cluster slot)',
    default: '{mtc-batch:overdue}:notified',
    parse(raw, where) {
      const value = redisKey(raw, where);
      // Redis's hash tag: the text between the first { and the next }, if not empty.
      const open = value.indexOf('{');
      if (open < 0 || value.indexOf('}', open + 1) <= open + 1) {
        throw new ConfigError(
          `${where} must hold a {hash tag}, e.g. {mtc-batch:overdue}:notified, so that the index, <key>:next, <key>:lock, <key>:journal and <key>:last-run share one Redis Cluster slot; got ${describe(value)}`,
        );
      }
      return value;
    },
  },
  {
    key: 'serveHost',
    env: 'MTC_BATCH_SERVE_HOST',
    description: 'address serve listens on (0.0.0.0 in a container, to be reached from outside the pod)',
    default: '127.0.0.1',
    parse(raw, where) {
      const value = nonEmptyString(raw, where);
      if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(value)) throw new ConfigError(`${where} must be a host name or IP address; got ${describe(value)}`);
      return value;
    },
  },
  {
    key: 'servePort',
    env: 'MTC_BATCH_SERVE_PORT',
    description: 'TCP port serve listens on (0: any free port, logged at start)',
    default: 8080,
    parse: integerIn(0, 65_535),
  },
  {
    key: 'notificationFormat',
    env: 'MTC_BATCH_NOTIFICATION_FORMAT',
    description: 'how notifications are stored: mtc (MTC\'s cache envelope, which the admin app reads) or plain (the bare JSON object)',
    default: 'mtc',
    parse: oneOf(['mtc', 'plain'] as const),
  },
  {
    key: 'overdueSyncLockSeconds',
    env: 'MTC_BATCH_OVERDUE_SYNC_LOCK_SECONDS',
    description:
      'lifetime of the overdue-sync run lock, renewed every third of it while the run is alive: a run that stops renewing it ' +
      '(killed, paused) is presumed dead after this long, and if it comes back it writes nothing more',
    default: 60,
    parse: integerIn(1, 86_400),
  },
];

export const settings: ReadonlyArray<SettingSpec> = Object.freeze(settingList);

export const defaults: Readonly<Config> = Object.freeze(
  Object.fromEntries(settingList.map((s) => [s.key, s.default])) as unknown as Config,
);

/** A setting's default as help shows it: "unset", "" (none) for the empty text, else its value. */
export function shownDefault(spec: SettingSpec): string {
  return spec.default === null ? 'unset' : spec.default === '' ? '"" (none)' : String(spec.default);
}

export function settingSpec(key: SettingKey): SettingSpec {
  const spec = settingList.find((s) => s.key === key);
  if (!spec) throw new Error(`no such setting: ${key}`);
  return spec;
}

/** The flag that sets a setting on the command line: `batchSize` → `--batch-size`, unless the setting names its own. */
export function flagName(key: SettingKey): string {
  return settingList.find((s) => s.key === key)?.flag ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Every way to give a setting, for messages: `MTC_BATCH_BUS_KEY, --bus-key or a config file's busKey`. */
export function settingSources(key: SettingKey): string {
  return `${settingSpec(key).env}, ${flagName(key)} or a config file's ${key}`;
}

/** The property commander gives a flag's value: `--overdue-minutes` → `overdueMinutes`. */
export function flagProperty(key: SettingKey): string {
  return flagName(key)
    .slice(2)
    .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export { maskUrl } from './urls.js';
