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
