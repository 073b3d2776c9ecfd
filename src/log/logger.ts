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
  const now = options.now ?? (() => new Date());
  return make(options.base ?? {});

  function make(base: Fields): Logger {
    const write = (level: LogLevel, msg: string, fields: Fields = {}) => {
      if (rank[level] < rank[options.level]) return;
      const record = { ...base, ...fields };
      if (format === 'json') {
        stream.write(`${jsonRecord({ time: now().toISOString(), level, msg, ...record })}\n`);
      } else {
        stream.write(`${humanLine(level, msg, record)}\n`);
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

/**
 * A record as one JSON line. The replacer (bigints, errors) makes JSON.stringify several
 * times slower, so a record of plain values (every access-log line of serve) goes without.
 */
function jsonRecord(record: Fields): string {
  for (const key in record) {
    const v = record[key];
    if ((typeof v === 'object' && v !== null) || typeof v === 'bigint') return JSON.stringify(record, jsonSafe);
  }
  return JSON.stringify(record);
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
