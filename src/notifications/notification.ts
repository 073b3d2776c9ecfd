/**
 * A school's home-page notification (pure; no I/O): the JSON object the admin app reads
 * under `<prefix><school UUID>`, keys in this order:
 * `{"schoolUUID","dateTimeCreated","processingErrorPupilUUIDs":[…],"overdueChecksUUIDs":[…]}`.
 * Both lists are always arrays, sorted, without repeats, so an unchanged school gets an
 * unchanged value (but for its creation time).
 *
 * Stored (format `mtc`, the default) in MTC's cache envelope
 * `{"meta":{"type":"object"},"value":"<the object's JSON text>"}`: the admin app reads
 * every key through its cache service, which parses the entry, switches on `meta.type` and,
 * for "object", parses `value`; a bare object there is an error, not a notification.
 */
import type { NotificationFormat } from '../config/settings.js';

export type { NotificationFormat } from '../config/settings.js';

export interface SchoolNotification {
  schoolUUID: string;
  dateTimeCreated: string;
  processingErrorPupilUUIDs: string[];
  overdueChecksUUIDs: string[];
}

export function notificationKey(prefix: string, schoolUuid: string): string {
  return `${prefix}${schoolUuid}`;
}

const uuid = '"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"';
const uuidArray = new RegExp(`^\\[(?:${uuid}(?:,${uuid})*)?\\]$`);
const bareUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The stored text, from lists the database already wrote as JSON arrays of lower-case
 * UUIDs (null: empty). Returns null when an input is not exactly that (a malformed id in
 * a text column), so broken JSON is never written; and null when both lists are empty
 * (a school with nothing to report has no entry).
 */
export function notificationJson(schoolUuid: string, created: Date, processingErrorPupils: string | null, overdueChecks: string | null): string | null {
  const errors = processingErrorPupils ?? '[]';
  const overdue = overdueChecks ?? '[]';
  if (!bareUuid.test(schoolUuid) || !uuidArray.test(errors) || !uuidArray.test(overdue)) return null;
  if (errors === '[]' && overdue === '[]') return null;
  return `{"schoolUUID":"${schoolUuid}","dateTimeCreated":"${created.toISOString()}","processingErrorPupilUUIDs":${errors},"overdueChecksUUIDs":${overdue}}`;
}

/**
 * The value to store for a notification's JSON text. The envelope is built from the same
 * text, escaped once (JSON.stringify of a string: only its quotes need it here).
 */
export function storedValue(json: string, format: NotificationFormat): string {
  return format === 'plain' ? json : `{"meta":{"type":"object"},"value":${JSON.stringify(json)}}`;
}

/**
 * A stored entry read back (for the demo and operators): an MTC cache entry of type
 * "object" is unwrapped as the admin app unwraps it; anything else is taken as the bare
 * object. Throws when the text is not JSON.
 */
export function readStoredNotification(stored: string): { format: NotificationFormat; notification: SchoolNotification } {
  const parsed = JSON.parse(stored) as { meta?: { type?: unknown }; value?: unknown };
  if (parsed?.meta?.type === 'object' && typeof parsed.value === 'string') {
    return { format: 'mtc', notification: JSON.parse(parsed.value) as SchoolNotification };
  }
  return { format: 'plain', notification: parsed as unknown as SchoolNotification };
}
