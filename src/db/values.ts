/**
 * Drivers return the same column in different shapes: SQLite keeps timestamps as Unix
 * milliseconds and booleans as 0/1, PostgreSQL returns COUNT(*) and bigint as strings,
 * SQL Server returns uniqueidentifiers in upper case. These turn them into one shape.
 */

export function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') {
    const n = Number(value);
    return Number.isFinite(n) && /^\d+$/.test(value) ? new Date(n) : new Date(value);
  }
  throw new TypeError(`not a timestamp: ${String(value)}`);
}

export function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : Number(String(value));
  if (!Number.isFinite(n)) throw new TypeError(`not a number: ${String(value)}`);
  return n;
}

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
}

export function toUuid(value: unknown): string {
  return String(value).toLowerCase();
}
