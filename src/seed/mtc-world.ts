/**
 * Builders for the MTC tables (schools, pupils, checks) used by the demo, the tests and
 * the benchmarks. They write through the same tables the jobs read.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { insertInChunks } from '../db/bulk-insert.js';
import { listChunks, whereInList } from '../db/lists.js';
import { toNumber, toUuid } from '../db/values.js';

export interface CheckSpec {
  /** Minutes since the pupil logged in; null (default) for a check not logged into. */
  loggedInMinutesAgo?: number | null;
  received?: boolean;
  isLiveCheck?: boolean;
  processingFailed?: boolean;
  complete?: boolean;
}

export interface PupilSpec {
  /** The pupil's current check. */
  check?: CheckSpec;
  /** An earlier check, replaced by the current one (a restart). */
  restartedFrom?: CheckSpec;
  /** Whether the pupil has an attendance code. */
  attendance?: boolean;
}

export interface SeededPupil {
  id: number;
  urlSlug: string;
  checkCode: string;
  /** The restarted (no longer current) check's code, if any. */
  previousCheckCode?: string;
}

async function insertId(db: Database, table: string, row: Record<string, unknown>): Promise<number> {
  const [inserted] = (await db.knex(table).insert(row, ['id'])) as Array<{ id: unknown } | number>;
  return toNumber(typeof inserted === 'object' ? inserted.id : inserted);
}

export async function seedSchool(db: Database, name = 'School'): Promise<{ id: number; urlSlug: string }> {
  const urlSlug = randomUUID();
  return { id: await insertId(db, 'school', { urlSlug, name }), urlSlug };
}

async function insertCheck(db: Database, pupilId: number, spec: CheckSpec, now: Date): Promise<{ id: number; checkCode: string }> {
  const checkCode = randomUUID();
  const minutes = spec.loggedInMinutesAgo ?? null;
  const id = await insertId(db, 'check', {
    pupil_id: pupilId,
    checkCode,
    isLiveCheck: spec.isLiveCheck ?? true,
    pupilLoginDate: minutes === null ? null : new Date(now.getTime() - minutes * 60_000),
    received: spec.received ?? false,
    complete: spec.complete ?? false,
    processingFailed: spec.processingFailed ?? false,
  });
  return { id, checkCode };
}

/** A pupil with a current check (and optionally a restarted one before it). */
export async function seedPupil(db: Database, schoolId: number, spec: PupilSpec = {}, now = new Date()): Promise<SeededPupil> {
  const urlSlug = randomUUID();
  const id = await insertId(db, 'pupil', { school_id: schoolId, urlSlug, currentCheckId: null, attendanceId: spec.attendance ? 1 : null });
  const previous = spec.restartedFrom ? await insertCheck(db, id, spec.restartedFrom, now) : undefined;
  const current = await insertCheck(db, id, spec.check ?? {}, now);
  await db.knex('pupil').where({ id }).update({ currentCheckId: current.id });
  return { id, urlSlug, checkCode: current.checkCode, ...(previous ? { previousCheckCode: previous.checkCode } : {}) };
}

/**
 * Many schools at once, each with `pupilsPerSchool` pupils whose current check is
 * overdue (logged in two days before `now`, not received). Returns the schools' UUIDs.
 */
export async function seedOverdueSchools(db: Database, count: number, pupilsPerSchool = 1, now = new Date()): Promise<string[]> {
  const { knex, dialect } = db;
  const schools = Array.from({ length: count }, (_, i) => ({ urlSlug: randomUUID(), name: `School ${i + 1}` }));
  await insertInChunks(knex, dialect, 'school', schools);
  const ids = new Map<string, number>();
  for (const chunk of listChunks(dialect, schools.map((s) => s.urlSlug))) {
    const rows: Array<{ id: unknown; urlSlug: unknown }> = await whereInList(knex('school').select('id', 'urlSlug'), dialect, 'urlSlug', chunk, 'uuid');
    for (const r of rows) ids.set(toUuid(r.urlSlug), toNumber(r.id));
  }
  const pupils = schools.flatMap((s) =>
    Array.from({ length: pupilsPerSchool }, () => ({ school_id: ids.get(s.urlSlug), urlSlug: randomUUID(), currentCheckId: null, attendanceId: null })),
  );
  await insertInChunks(knex, dialect, 'pupil', pupils);
  const pupilIds: number[] = [];
  for (const chunk of listChunks(dialect, pupils.map((p) => p.urlSlug))) {
    const rows: Array<{ id: unknown }> = await whereInList(knex('pupil').select('id'), dialect, 'urlSlug', chunk, 'uuid');
    pupilIds.push(...rows.map((r) => toNumber(r.id)));
  }
  const loggedIn = new Date(now.getTime() - 2 * 86_400_000);
  await insertInChunks(
    knex,
    dialect,
    'check',
    pupilIds.map((pupil_id) => ({ pupil_id, checkCode: randomUUID(), isLiveCheck: true, pupilLoginDate: loggedIn, received: false, complete: false, processingFailed: false })),
  );
  await knex('pupil')
    .whereNull('currentCheckId')
    .update({ currentCheckId: knex('check').max('id').where('check.pupil_id', knex.ref('pupil.id')) });
  return schools.map((s) => s.urlSlug);
}
