/**
 * A `checkInvalid` message of the check notifier, checked for shape (pure):
 * `{"version":1,"checkCode":"<uuid>","notificationType":"checkInvalid"}`. Other fields
 * are allowed (the notifier may add some); another type or version is refused.
 */
import { isUuid, normalizeUuid, shown } from '../ids.js';

export type ParsedMessage = { ok: true; checkCode: string } | { ok: false; error: string };

export function parseCheckInvalidMessage(value: unknown): ParsedMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: 'a message must be a JSON object like {"version":1,"checkCode":"<uuid>","notificationType":"checkInvalid"}' };
  }
  const m = value as Record<string, unknown>;
  if (m.notificationType !== 'checkInvalid') return { ok: false, error: `notificationType must be "checkInvalid"; got ${shown(m.notificationType)}` };
  if (m.version !== 1) return { ok: false, error: `version must be 1; got ${shown(m.version)}` };
  if (!isUuid(m.checkCode)) return { ok: false, error: `checkCode must be a UUID; got ${shown(m.checkCode)}` };
  return { ok: true, checkCode: normalizeUuid(m.checkCode) };
}
