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
 * Builds the stored text of each school's notification in one run, from lists the
 * database already wrote as JSON arrays of lower-case UUIDs (null: empty). The run's
 * creation time is formatted once, and each entry is one string built in one step: a
 * run over every school in the country builds 20,000 of them in a process that has just
 * started, where every call per row counts.
 *
 * Returns null when both lists are empty (a school with nothing to report has no entry)
 * and, with `checkIds`, when an input is not exactly a UUID or such an array (a malformed
 * id in a text column), so broken JSON is never written. Without `checkIds` the caller
 * vouches for the ids: the database's UUID type wrote them.
 *
 * Format `mtc` is the same JSON text inside MTC's envelope, escaped as JSON.stringify
 * would escape it: of its characters only the quotes need it (the ids are UUIDs, the rest
 * is fixed text and an ISO date).
 */
export function notificationBuilder(created: Date, format: NotificationFormat, checkIds: boolean): (schoolUuid: string, processingErrorPupils: string | null, overdueChecks: string | null) => string | null {
  const createdText = created.toISOString();
  const q = format === 'plain' ? '"' : '\\"';
  const head = format === 'plain' ? '' : '{"meta":{"type":"object"},"value":"';
  const tail = format === 'plain' ? '' : '"}';
  const escape = format === 'plain' ? (list: string) => list : (list: string) => list.replaceAll('"', '\\"');
  return (schoolUuid, processingErrorPupils, overdueChecks) => {
    const errors = processingErrorPupils ?? '[]';
    const overdue = overdueChecks ?? '[]';
    if (checkIds && (!bareUuid.test(schoolUuid) || !uuidArray.test(errors) || !uuidArray.test(overdue))) return null;
    if (errors === '[]' && overdue === '[]') return null;
    return (
      `${head}{${q}schoolUUID${q}:${q}${schoolUuid}${q},${q}dateTimeCreated${q}:${q}${createdText}${q},` +
      `${q}processingErrorPupilUUIDs${q}:${escape(errors)},${q}overdueChecksUUIDs${q}:${escape(overdue)}}${tail}`
    );
  };
}

/** One notification's JSON text (plain format, ids checked); see notificationBuilder. */
export function notificationJson(schoolUuid: string, created: Date, processingErrorPupils: string | null, overdueChecks: string | null): string | null {
  return notificationBuilder(created, 'plain', true)(schoolUuid, processingErrorPupils, overdueChecks);
}

/**
 * The value to store for a notification's JSON text: the envelope (format `mtc`) is that
 * text escaped once (JSON.stringify of a string).
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
