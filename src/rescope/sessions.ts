/**
 * Sessions of the surrounding platform, read from Redis the way the platform's own
 * services read them: `<prefix><token>` holds JSON with `user_id` (a UUID) and optionally
 * `access_token_validity` (seconds). The platform keys sessions by the bare token, so the
 * prefix is empty unless a deployment sets one. A successful lookup extends the session,
 * as the platform does on every authenticated call; an unknown, expired, non-JSON or
 * anonymous session is unauthorised. `rescope-show` and `serve` both go through
 * `sessionUser`: there is one lookup.
 */
import type { RedisClient } from '../redis/redis.js';
import { UsageError, isWrongType } from '../errors.js';
import { isUuid, normalizeUuid } from '../ids.js';

/** Lifetime given to a session whose record names none (the platform's default). */
export const defaultSessionSeconds = 3600;

/** Longest token accepted, by flag or header: real tokens are tens of characters. */
const maxTokenLength = 512;

/** Tokens are opaque, but a value with spaces or of absurd length is a mistake, not a token. */
export function assertTokenShape(token: string, flag = '--token'): void {
  if (token.length === 0 || token.length > maxTokenLength || /[\s\u0000-\u001f]/.test(token)) {
    throw new UsageError(`${flag} must be a session token: 1 to ${maxTokenLength} characters without spaces or control characters`);
  }
}

/** The platform's tokens are base64 text; anything else in the header cannot be one. */
const base64Token = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The token of an `Authorization: Token <base64 text>` header, or null when the header is
 * missing or is not exactly that (another scheme, spaces or `:` in the token, empty).
 * The scheme name is case-insensitive, as HTTP auth schemes are.
 */
export function tokenFromAuthorization(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^token (.*)$/i.exec(header);
  const token = match?.[1];
  if (token === undefined || token.length > maxTokenLength || !base64Token.test(token)) return null;
  return token;
}

export type SessionLookup = { ok: true; userId: string } | { ok: false; reason: string };

/** The session's lifetime in seconds: its own `access_token_validity` when that is a positive whole number. */
export function sessionSeconds(validity: unknown): number {
  const n = typeof validity === 'number' ? validity : typeof validity === 'string' && /^\d+$/.test(validity) ? Number(validity) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : defaultSessionSeconds;
}

/** What a session record says: the user, and how long to extend it; or why it is no session. */
export function readSessionRecord(raw: string): { ok: true; userId: string; seconds: number } | { ok: false; reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'the session record is not JSON' };
  }
  const record = parsed !== null && typeof parsed === 'object' ? (parsed as { user_id?: unknown; access_token_validity?: unknown }) : {};
  if (record.user_id === 'anonymous') return { ok: false, reason: 'the session is anonymous' };
  if (!isUuid(record.user_id)) return { ok: false, reason: 'the session record has no valid user_id' };
  return { ok: true, userId: normalizeUuid(record.user_id), seconds: sessionSeconds(record.access_token_validity) };
}

/**
 * Looks the token up (GET) and, for a valid session, extends it (EXPIRE with its own
 * validity, else an hour). The EXPIRE is awaited: a caller told "authorised" has a session
 * that lives on.
 */
export async function sessionUser(client: RedisClient, prefix: string, token: string): Promise<SessionLookup> {
  const key = `${prefix}${token}`;
  // A key of another type under the token's name is no session (with the platform's
  // empty prefix, any key whose name is base64 text can be named by a client).
  let raw: string | null;
  try {
    raw = await client.get(key);
  } catch (err) {
    if (!isWrongType(err)) throw err;
    return { ok: false, reason: 'the token names a Redis key that holds no session (another kind of value)' };
  }
  if (raw === null) return { ok: false, reason: 'no session for this token (unknown or expired)' };
  const record = readSessionRecord(raw);
  if (!record.ok) return record;
  await client.expire(key, record.seconds);
  return { ok: true, userId: record.userId };
}
