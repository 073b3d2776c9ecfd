/**
 * The check notifier's `checkInvalid` handler: mark the checks failed (only where not
 * already marked, so a replay changes nothing), find each check's pupil and school, and
 * add the pupil to the school's notification atomically on the Redis side.
 *
 * A pupil is added only while the failed check is their current one and they have no
 * attendance code: the same definition overdue-sync applies, so the two never disagree
 * about a pupil (a restart or an attendance code has already ended the concern).
 */
import type { RedisClient } from '../redis/redis.js';
import type { Database } from '../db/database.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toNumber, toUuid } from '../db/values.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { type PupilMerge, mergePupils } from './merge-pupils.js';
import type { NotificationFormat } from './notification.js';
import { recordNotifiedSchools } from './sync-journal.js';

export interface CheckInvalidInput {
  /** Line of the JSON lines input, or null for --check-code. */
  line: number | null;
  checkCode: string;
}

export interface NotifyInvalidOptions {
  notificationTtlSeconds: number;
  notificationPrefix: string;
  notificationIndexKey: string;
  notificationFormat: NotificationFormat;
  now?: Date;
  log?: Logger;
}

export interface NotifyInvalidResult {
  /** Messages whose check exists (marked failed, or already marked), each counted. */
  handled: number;
  /** Distinct schools whose notification got pupils. */
  schools: number;
  /** Distinct pupils added to (or already in) a notification. */
  pupils: number;
  /** Handled messages whose check is no longer the pupil's current one, or whose pupil has an attendance code. */
  notCurrent: number;
  rejected: Array<{ line: number | null; error: string }>;
}

/** One call's result, with the ids behind its `schools` and `pupils`: each school's pupils. */
export interface NotifyInvalidBatch {
  result: NotifyInvalidResult;
  notified: ReadonlyMap<string, ReadonlySet<string>>;
}

export async function notifyInvalid(db: Database, redis: RedisClient, inputs: readonly CheckInvalidInput[], options: NotifyInvalidOptions): Promise<NotifyInvalidResult> {
  return (await notifyInvalidBatch(db, redis, inputs, options)).result;
}

/**
 * Totals over calls of notifyInvalidBatch (notify-invalid's groups of 1,000 lines): the
 * messages are counted each, as in one call, but `schools` and `pupils` are the distinct
 * schools and pupils notified over all the calls, not the sum of each call's counts (a
 * school concerned by lines in three groups is one school).
 */
export class NotifyInvalidTotals {
  handled = 0;
  notCurrent = 0;
  readonly rejected: NotifyInvalidResult['rejected'] = [];
  private readonly schools = new Set<string>();
  private readonly pupils = new Set<string>();

  add({ result, notified }: NotifyInvalidBatch): void {
    this.handled += result.handled;
    this.notCurrent += result.notCurrent;
    this.rejected.push(...result.rejected);
    for (const [school, pupils] of notified) {
      this.schools.add(school);
      for (const pupil of pupils) this.pupils.add(pupil);
    }
  }

  result(): NotifyInvalidResult {
    return { handled: this.handled, schools: this.schools.size, pupils: this.pupils.size, notCurrent: this.notCurrent, rejected: this.rejected };
  }
}

/** notifyInvalid, also returning which schools and pupils it notified. */
export async function notifyInvalidBatch(db: Database, redis: RedisClient, inputs: readonly CheckInvalidInput[], options: NotifyInvalidOptions): Promise<NotifyInvalidBatch> {
  const log = options.log ?? silentLogger;
  const { knex, dialect } = db;
  const codes = [...new Set(inputs.map((i) => i.checkCode))];
  const found = new Map<string, { pupil: string; school: string; current: boolean }>();

  for (const chunk of listChunks(dialect, codes)) {
    // Mark first: where it is already marked nothing changes, so a replay is harmless.
    await whereInList(knex('check'), dialect, 'checkCode', chunk, 'uuid').where('processingFailed', false).update({ processingFailed: true });
    const rows: Array<Record<string, unknown>> = await whereInList(
      knex('check as c')
        .join('pupil as p', 'p.id', 'c.pupil_id')
        .join('school as s', 's.id', 'p.school_id')
        .select('c.checkCode', 'c.id as check_id', 'p.currentCheckId', 'p.attendanceId', 'p.urlSlug as pupil_uuid', 's.urlSlug as school_uuid'),
      dialect,
      'c.checkCode',
      chunk,
      'uuid',
    );
    for (const r of rows) {
      const current = r.currentCheckId !== null && toNumber(r.currentCheckId) === toNumber(r.check_id) && r.attendanceId === null;
      found.set(toUuid(r.checkCode), { pupil: toUuid(r.pupil_uuid), school: toUuid(r.school_uuid), current });
    }
  }

  const result: NotifyInvalidResult = { handled: 0, schools: 0, pupils: 0, notCurrent: 0, rejected: [] };
  const pupilsBySchool = new Map<string, Set<string>>();
  for (const input of inputs) {
    const check = found.get(input.checkCode);
    if (!check) {
      result.rejected.push({ line: input.line, error: `unknown check code ${input.checkCode}` });
      continue;
    }
    result.handled++;
    if (!check.current) {
      result.notCurrent++;
      continue;
    }
    const pupils = pupilsBySchool.get(check.school) ?? new Set<string>();
    pupils.add(check.pupil);
    pupilsBySchool.set(check.school, pupils);
  }
  if (pupilsBySchool.size === 0) return { result, notified: pupilsBySchool };

  const merges: PupilMerge[] = [...pupilsBySchool].map(([school, pupils]) => ({ school, pupils: [...pupils] }));
  // The checks are marked (committed) by now. Listed in the index first — and journaled
  // for an overdue-sync in progress, whose older snapshot could overwrite or remove the
  // entries written next (sync-journal.ts) — and only then written.
  await recordNotifiedSchools(redis, options.notificationIndexKey, merges, options.notificationTtlSeconds);
  await mergePupils(redis, merges, { ...options, now: options.now ?? new Date(), log });
  result.schools = merges.length;
  result.pupils = [...pupilsBySchool.values()].reduce((n, set) => n + set.size, 0);
  log.debug(`added ${result.pupils} pupils to ${result.schools} school notifications`);
  return { result, notified: pupilsBySchool };
}
