/** Parsing of command-specific flag values, with messages that name the flag. */
import { integerIn } from '../config/settings.js';
import { UsageError } from '../errors.js';
import { isUuid, normalizeUuid, shown } from '../ids.js';
import { formatCount } from './format.js';

/** A whole-number flag, or `fallback` when it was not given. */
export function integerOption(value: unknown, flag: string, min: number, max: number, fallback: number): number;
export function integerOption(value: unknown, flag: string, min: number, max: number): number | undefined;
export function integerOption(value: unknown, flag: string, min: number, max: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  try {
    return integerIn(min, max)(value, flag);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A UUID flag (lower-cased), or undefined when not given. */
export function uuidOption(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isUuid(value)) throw new UsageError(`${flag} must be a UUID; got ${shown(value)}`);
  return normalizeUuid(value);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
