/**
 * Connection URLs as settings: their passwords masked for every message, and the
 * mistakes people make writing them (a `/`, `#`, `?` or `%` in a password, a database
 * number that is not one) caught when the configuration loads, naming the setting,
 * instead of failing later inside a driver with a message that shows neither.
 */

/** Scheme and `//`, e.g. `postgres://`. */
const schemePattern = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The URL with every secret it may hold replaced by `***`: the password of its
 * credentials, and in a query string or fragment every value but those of a few settings
 * known to hold none (`?password=`, which drivers read too, shows as `?password=***`; a
 * fragment is hidden whole). The credentials end at the LAST `@` (a password may hold
 * `@`, `/` or `#` unencoded: those are exactly the URLs that need masking most, because
 * they are the ones that end up in errors). Where that reading and a query string overlap
 * (a query value holding `@`), both are masked.
 */
export function maskUrl(url: string): string {
  const hidden: Array<[number, number]> = [];
  const parts = credentialParts(url);
  if (parts && parts.password !== null) {
    const start = parts.scheme.length + parts.user.length + 1;
    hidden.push([start, start + parts.password.length]);
  }
  const query = queryStart(url);
  if (query !== null) hidden.push(...queryValues(url, query));
  if (hidden.length === 0) return url;
  hidden.sort((a, b) => a[0] - b[0]);
  let masked = '';
  let at = -1;
  for (const [start, end] of hidden) {
    if (start <= at) {
      // Overlaps or touches the range just masked: widen it.
      at = Math.max(at, end);
      continue;
    }
    masked += `${url.slice(Math.max(at, 0), start)}***`;
    at = end;
  }
  return masked + url.slice(at);
}

/** Query settings whose values are shown in messages: none of them can hold a secret. */
const shownQueryKeys = new Set(['db', 'tls', 'family', 'encrypt', 'trustservercertificate', 'sslmode', 'ssl', 'connect_timeout', 'application_name', 'host', 'port', 'user', 'options']);

/** The ranges of `url` to hide in its query string (from `query`, its `?` or `#`) and fragment. */
function queryValues(url: string, query: number): Array<[number, number]> {
  const hash = url.indexOf('#', query);
  const ranges: Array<[number, number]> = hash >= 0 && hash + 1 < url.length ? [[hash + 1, url.length]] : [];
  if (url[query] !== '?') return ranges;
  const end = hash >= 0 ? hash : url.length;
  let from = query + 1;
  while (from < end) {
    const amp = url.indexOf('&', from);
    const to = amp >= 0 && amp < end ? amp : end;
    const eq = url.indexOf('=', from);
    const key = eq >= 0 && eq < to ? url.slice(from, eq) : url.slice(from, to);
    if (!shownQueryKeys.has(decoded(key).toLowerCase())) {
      // A key without a value may be a secret pasted on its own: hidden whole.
      if (eq >= 0 && eq < to) ranges.push([eq + 1, to]);
      else if (to > from) ranges.push([from, to]);
    }
    from = to + 1;
  }
  return ranges;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Where `url`'s query string or fragment starts (its `?` or `#`), or null when it has
 * neither. One after the credentials (as maskUrl reads them, to the last `@`) is one;
 * before that `@`, a `?` or `#` is taken for one only when a `name=` follows it
 * (`redis://host:6379?password=p@ss`), else for a character of the password that should
 * have been percent-encoded (credentialProblem says so).
 */
export function queryStart(url: string): number | null {
  const scheme = schemePattern.exec(url)?.[0];
  if (scheme === undefined) return null;
  const parts = credentialParts(url);
  const hostFrom = parts ? url.length - parts.rest.length : scheme.length;
  const inCredentials = /[?#](?=[A-Za-z_][\w.%-]*=)/.exec(url.slice(scheme.length, hostFrom));
  if (inCredentials) return scheme.length + inCredentials.index;
  const after = url.slice(hostFrom).search(/[?#]/);
  return after >= 0 ? hostFrom + after : null;
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
