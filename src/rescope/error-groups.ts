/**
 * Failed rows grouped by cause. A thousand failures usually have one cause, written a
 * thousand times with a different learner id or row number in it: errors that differ
 * only in ids (UUIDs) or numbers are one group. Pure functions, no I/O.
 */

const uuids = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const numbers = /\b\d+(?:[.,]\d+)*\b/g;

/** Shown for rows failed without an error text (none should be). */
export const noErrorRecorded = '(no error recorded)';

/** The error with its ids as `<id>` and its numbers as `<n>`: the same text for the same cause. */
export function errorPattern(error: string | null): string {
  if (error === null || error === '') return noErrorRecorded;
  return error.replace(uuids, '<id>').replace(numbers, '<n>');
}

export interface ErrorGroup {
  /** The error, ids and numbers replaced. */
  error: string;
  rows: number;
}

/** Merges counts of exact error texts into groups by pattern, largest first. */
export function groupErrors(counts: Iterable<{ error: string | null; rows: number }>): ErrorGroup[] {
  const groups = new Map<string, number>();
  for (const { error, rows } of counts) {
    const pattern = errorPattern(error);
    groups.set(pattern, (groups.get(pattern) ?? 0) + rows);
  }
  return [...groups]
    .map(([error, rows]) => ({ error, rows }))
    .sort((a, b) => b.rows - a.rows || (a.error < b.error ? -1 : a.error > b.error ? 1 : 0));
}
