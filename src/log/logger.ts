/**
 * Logs go to stderr, never stdout (stdout carries results). Human lines on a terminal,
 * JSON lines elsewhere, so a CronJob's log collector gets structured records.
 */
import type { LogFormat, LogLevel } from '../config/settings.js';

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger whose records all carry `fields` too. */
  child(fields: Fields): Logger;
  readonly format: 'human' | 'json';
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  base?: Fields;
  /** Clock for records; tests pin it. */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format === 'auto' ? (stream.isTTY ? 'human' : 'json') : options.format;
  const minRank = rank[options.level];
  const isoNow = options.now ? () => options.now!().toISOString() : isoClock();
  return make(options.base ?? {});

  function make(base: Fields): Logger {
    // The base fields as JSON once, not on every record; a record whose own fields name a
    // base field or time/level/msg goes the general way, which keeps JSON.stringify's
    // rule for repeated keys (the first position, the last value).
    const taken = new Set([...reservedKeys, ...Object.keys(base)]);
    const baseJson = reservedKeys.some((k) => k in base) ? null : fieldsJson(base, memberStarts(new Set()));
    const starts = memberStarts(taken);
    const write = (level: LogLevel, msg: string, fields?: Fields) => {
      if (rank[level] < minRank) return;
      if (format === 'json') {
        const own = baseJson === null ? null : fields === undefined ? '' : fieldsJson(fields, starts);
        const line =
          own === null || baseJson === null
            ? JSON.stringify({ time: isoNow(), level, msg, ...base, ...fields }, jsonSafe)
            : `{"time":"${isoNow()}","level":"${level}","msg":${JSON.stringify(msg)}${baseJson}${own}}`;
        stream.write(`${line}\n`);
      } else {
        stream.write(`${humanLine(level, msg, { ...base, ...fields })}\n`);
      }
    };
    return {
      format,
      debug: (msg, fields) => write('debug', msg, fields),
      info: (msg, fields) => write('info', msg, fields),
      warn: (msg, fields) => write('warn', msg, fields),
      error: (msg, fields) => write('error', msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  }
}

const reservedKeys = ['time', 'level', 'msg'];

/** `,"key":` for each key a record may hold here, or null for one it may not (see fieldsJson). */
type MemberStarts = (key: string) => string | null;

/** Remembers the text of each key (the keys of a program's records are few). */
function memberStarts(taken: Set<string>): MemberStarts {
  const known = new Map<string, string | null>();
  return (key) => {
    let start = known.get(key);
    if (start === undefined) {
      // Keys that look like array indexes come first in an object, whatever their place.
      const code = key.charCodeAt(0);
      start = taken.has(key) || (code >= 48 && code <= 57) ? null : `,${JSON.stringify(key)}:`;
      if (known.size < 1000) known.set(key, start);
    }
    return start;
  };
}

/**
 * The fields of a record as the members of a JSON object (`,"k":v…`), exactly as
 * JSON.stringify with `jsonSafe` writes them, one value at a time: a serve access line
 * costs a few string joins instead of copying objects into a new one and walking it.
 * Null when a key is taken (time, level, msg or a base field) or starts with a digit: the
 * caller then writes the record the general way.
 */
function fieldsJson(fields: Fields, starts: MemberStarts): string | null {
  let out = '';
  for (const key of Object.keys(fields)) {
    const start = starts(key);
    if (start === null) return null;
    const value = jsonValue(fields[key]);
    if (value !== undefined) out += start + value;
  }
  return out;
}

/** One value as JSON.stringify(…, jsonSafe) writes it inside an object; undefined when it leaves the key out. */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      // null, objects (toJSON, errors, nested bigints), bigints: JSON.stringify itself
      // (jsonSafe looks at values only, so the value alone comes out as it would inside).
      return JSON.stringify(value, jsonSafe) as string | undefined;
  }
}

/**
 * ISO-8601 time of now, as Date#toISOString writes it, from a prefix made once a second:
 * a busy server writes hundreds of records a second.
 */
function isoClock(): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const ms = Date.now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      // YYYY-MM-DDTHH:mm:ss.
      prefix = new Date(s * 1000).toISOString().slice(0, -4);
    }
    const m = ms - s * 1000;
    return `${prefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
  };
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = createLogger({ format: 'json', level: 'error', stream: { write: () => true } as never });

function humanLine(level: LogLevel, msg: string, record: Fields): string {
  const { command, ...rest } = record;
  const prefix = `mtc-batch${command ? ` ${String(command)}` : ''}`;
  const tag = level === 'warn' ? 'warning: ' : level === 'error' ? 'error: ' : '';
  const extras = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, jsonSafe)}`)
    .join(' ');
  return `${prefix}: ${tag}${msg}${extras ? `  (${extras})` : ''}`;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
