/**
 * Sessions of the surrounding platform, read from Redis: `<prefix><token>` holds
 * `{"user_id":"<uuid>"}`; a missing key is an unknown or expired session.
 */
import type { RedisClient } from '../redis/redis.js';
import { UsageError } from '../errors.js';
import { isUuid, normalizeUuid } from '../ids.js';

/** Tokens are opaque, but a value with spaces or of absurd length is a mistake, not a token. */
export function assertTokenShape(token: string, flag = '--token'): void {
  if (token.length === 0 || token.length > 512 || /[\s\u0000-\u001f]/.test(token)) {
    throw new UsageError(`${flag} must be a session token: 1 to 512 characters without spaces or control characters`);
  }
}

export type SessionLookup = { ok: true; userId: string } | { ok: false; reason: string };

export async function sessionUser(client: RedisClient, prefix: string, token: string): Promise<SessionLookup> {
  const raw = await client.get(`${prefix}${token}`);
  if (raw === null) return { ok: false, reason: 'no session for this token (unknown or expired)' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'the session record is not JSON' };
  }
  const userId = (parsed as { user_id?: unknown } | null)?.user_id;
  if (!isUuid(userId)) return { ok: false, reason: 'the session record has no valid user_id' };
  return { ok: true, userId: normalizeUuid(userId) };
}
