/** Validation of ids that come from outside: flags, JSON lines, messages, tokens. */

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 4122 layout, any version: the surrounding systems' ids are not all v4. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

/** Lower-case form, so ids compare equal whichever system wrote them (SQL Server returns upper case). */
export function normalizeUuid(value: string): string {
  return value.toLowerCase();
}

/** A short quoted rendering of a bad value for an error message. */
export function shown(value: unknown): string {
  // A field left out reads as such, not as the JavaScript word for it.
  if (value === undefined) return 'nothing (the field is missing)';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
