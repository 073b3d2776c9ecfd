/**
 * A school's home-page notification (pure; no I/O): the JSON object the admin app reads
 * under `<prefix><school UUID>`, keys in this order:
 * `{"schoolUUID","dateTimeCreated","processingErrorPupilUUIDs":[…],"overdueChecksUUIDs":[…]}`.
 * Both lists are always arrays, sorted, without repeats, so an unchanged school gets an
 * unchanged value (but for its creation time).
 */

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
