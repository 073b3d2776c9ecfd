/** Small pieces of SQL text shared by the dialects. */

/** The driver's error code (SQLite/PostgreSQL `code`, SQL Server `number`). */
export function errorCode(err: unknown): string | number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; number?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.number === 'number') return e.number;
  }
  return undefined;
}

export function quoteDouble(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function quoteBracket(identifier: string): string {
  return `[${identifier.replace(/]/g, ']]')}]`;
}

/**
 * The table a "no such table" error names (SQLite `no such table: x`, PostgreSQL 42P01
 * `relation "x" does not exist`, SQL Server 208 `Invalid object name 'x'`), or null for
 * any other error.
 */
export function missingTable(err: unknown): string | null {
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);
  const sqlite = /no such table: (\S+)/.exec(message);
  if (sqlite) return sqlite[1]!;
  if (code === '42P01') return /relation "([^"]+)" does not exist/.exec(message)?.[1] ?? 'a table';
  if (code === 208) return /Invalid object name '([^']+)'/.exec(message)?.[1] ?? 'a table';
  return null;
}

/** Whether `err` is the server refusing a statement for lack of rights (not a missing object). */
export function permissionDenied(err: unknown): boolean {
  const code = errorCode(err);
  // PostgreSQL insufficient_privilege; SQL Server "The SELECT permission was denied".
  return code === '42501' || code === 229;
}

/**
 * What to do about SQLite refusing to write (SQLITE_READONLY…), or null for any other
 * error: the file, or the folder SQLite writes its journal in, is read-only for this user.
 * `urlSetting`: where the database URL was set.
 */
export function readOnlyAdvice(err: unknown, urlSetting: string): string | null {
  const code = errorCode(err);
  if (typeof code !== 'string' || !code.startsWith('SQLITE_READONLY')) return null;
  return (
    'this user may not write the file, or the folder it is in (SQLite writes its journal beside it), or the file is immutable; ' +
    `give the job write access there, or point the database URL (${urlSetting}) at a writable copy`
  );
}
