/**
 * Connection URLs as settings: their passwords masked for every message, and the
 * mistakes people make writing them (a `/`, `#`, `?` or `%` in a password, a database
 * number that is not one) caught when the configuration loads, naming the setting,
 * instead of failing later inside a driver with a message that shows neither.
 */

/** Scheme and `//`, e.g. `postgres://`. */
const schemePattern = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The URL with the password of its credentials replaced by `***`. The credentials end at
 * the LAST `@` (a password may hold `@`, `/` or `#` unencoded: those are exactly the
 * URLs that need masking most, because they are the ones that end up in errors).
 */
export function maskUrl(url: string): string {
  const parts = credentialParts(url);
  if (!parts || parts.password === null) return url;
  return `${parts.scheme}${parts.user}:***@${parts.rest}`;
}

interface CredentialParts {
  scheme: string;
  user: string;
  password: string | null;
  /** Everything after the credentials' `@`. */
  rest: string;
}

function credentialParts(url: string): CredentialParts | null {
  const scheme = schemePattern.exec(url)?.[0];
  if (scheme === undefined) return null;
  const afterScheme = url.slice(scheme.length);
  const at = afterScheme.lastIndexOf('@');
  if (at < 0) return null;
  const userinfo = afterScheme.slice(0, at);
  const colon = userinfo.indexOf(':');
  return {
    scheme,
    user: colon < 0 ? userinfo : userinfo.slice(0, colon),
    password: colon < 0 ? null : userinfo.slice(colon + 1),
    rest: afterScheme.slice(at + 1),
  };
}

/**
 * Why `url`'s user name or password would be misread, or null. In a URL they may not hold
 * `/`, `?` or `#` as they are (each ends the credentials early), and a `%` must start a
 * two-digit escape; `@` and `:` in a password are read as meant.
 */
export function credentialProblem(url: string): string | null {
  const parts = credentialParts(url);
  if (!parts) return null;
  for (const [what, text] of [['user name', parts.user], ['password', parts.password ?? '']] as const) {
    const reserved = /[/?#]/.exec(text)?.[0];
    if (reserved) {
      return `the ${what} holds "${reserved}", which must be written percent-encoded in a URL (${escapeOf(reserved)})`;
    }
    if (/%(?![0-9a-f]{2})/i.test(text)) return `the ${what} holds a "%" that does not start an escape: write a literal % as %25`;
  }
  return null;
}

function escapeOf(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

/**
 * The database number of a single-server Redis URL (`/3`; none or `/` is 0), or an
 * Error saying what is wrong. Whether the server has that many databases is checked when
 * connecting (16, numbered 0 to 15, unless the server is configured otherwise).
 */
export function redisDatabaseNumber(url: string): number | Error {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return new Error('is not a valid URL');
  }
  const path = parsed.pathname;
  if (path === '' || path === '/') return 0;
  const match = /^\/(\d{1,9})$/.exec(path);
  if (!match) {
    return new Error(`names the database ${JSON.stringify(path.slice(1))}: the path must be a database number (0 to 15 on a default server), e.g. redis://host:6379/0`);
  }
  return Number(match[1]);
}
