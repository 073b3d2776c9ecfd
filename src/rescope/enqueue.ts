/**
 * The "Do Rescope API": expands requests into one queue row per learner. Requests are
 * handled in groups: class and course facts for a group are read in one query, member
 * rows are inserted together in chunks that fit the dialect's parameter limit, and a
 * class-wide request is one INSERT ... SELECT however large the class.
 */
import type { Database } from '../db/database.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { EnqueueRequest } from './enqueue-request.js';
import { type RejectionKind, resolveTarget } from './enqueue-target.js';
import { type NewQueueRow, insertActiveMembers, insertQueueRows, refreshExisting } from './queue-table.js';
import { activeMembersAmong, countActiveMembers, loadClasses, loadCourses } from './reference-data.js';
import { memberListSources, sourcePriority } from './sources.js';

export interface EnqueueInput {
  /** Line of the JSON lines input, or null for a request given by flags or a library call. */
  line: number | null;
  request: EnqueueRequest;
}

export interface Rejection {
  line: number | null;
  error: string;
  reason: RejectionKind;
}

export interface EnqueueResult {
  /** New queue rows. */
  queued: number;
  /** Learners already queued (or in flight) for that course and class, or repeated in the input. */
  duplicates: number;
  /** Member ids that are not active members of the class. */
  dropped: number;
  /** Rows that had failed and were queued again by this request. */
  requeued: number;
  /** Requests for classes whose rescope setting is off: nothing queued for them. */
  rescopeOff: Array<{ line: number | null; classId: string }>;
  rejected: Rejection[];
}

export function emptyEnqueueResult(): EnqueueResult {
  return { queued: 0, duplicates: 0, dropped: 0, requeued: 0, rescopeOff: [], rejected: [] };
}

export function mergeEnqueueResults(into: EnqueueResult, more: EnqueueResult): void {
  into.queued += more.queued;
  into.duplicates += more.duplicates;
  into.dropped += more.dropped;
  into.requeued += more.requeued;
  into.rescopeOff.push(...more.rescopeOff);
  into.rejected.push(...more.rejected);
}

/** Queues a group of requests. Bad requests are reported in `rejected`; the others are still queued. */
export async function enqueue(db: Database, inputs: readonly EnqueueInput[], options: { log?: Logger } = {}): Promise<EnqueueResult> {
  const log = options.log ?? silentLogger;
  const result = emptyEnqueueResult();
  const classes = await loadClasses(db, inputs.flatMap((i) => (i.request.classId ? [i.request.classId] : [])));
  const courses = await loadCourses(db, inputs.flatMap((i) => (i.request.classId === null && i.request.courseId ? [i.request.courseId] : [])));

  // Member rows of the whole group, one per (learner, course, class), most urgent source
  // kept, override when any request for the learner asked for it.
  const memberRows = new Map<string, NewQueueRow>();
  const classWide: Array<{ courseId: string; classId: string; request: EnqueueRequest }> = [];

  for (const { line, request } of inputs) {
    const target = resolveTarget(request, classes, courses);
    if (target.kind === 'rejected') {
      result.rejected.push({ line, error: target.error, reason: target.reason });
      continue;
    }
    if (target.kind === 'rescope-off') {
      result.rescopeOff.push({ line, classId: target.classId });
      log.info(`class ${target.classId} has rescope off: nothing queued`, { line: line ?? undefined });
      continue;
    }
    if (!memberListSources.has(request.source)) {
      classWide.push({ courseId: target.courseId, classId: target.classId!, request });
      continue;
    }
    let learners = request.memberIds;
    if (target.classId !== null) {
      const active = await activeMembersAmong(db, target.classId, learners);
      result.dropped += learners.length - active.size;
      learners = learners.filter((id) => active.has(id));
    }
    result.duplicates += request.repeatedMembers;
    for (const userId of learners) {
      const key = `${userId}|${target.courseId}|${target.classId ?? ''}`;
      const existing = memberRows.get(key);
      if (existing) result.duplicates++;
      const source = existing && sourcePriority[existing.source] <= sourcePriority[request.source] ? existing.source : request.source;
      memberRows.set(key, { userId, courseId: target.courseId, classId: target.classId, source, override: request.override || (existing?.override ?? false) });
    }
  }

  if (memberRows.size > 0) {
    const rows = [...memberRows.values()];
    const inserted = await insertQueueRows(db, rows);
    result.queued += inserted;
    result.duplicates += rows.length - inserted;
    if (inserted < rows.length) result.requeued += await refreshMemberRows(db, rows);
  }

  for (const { courseId, classId, request } of classWide) {
    const inserted = await insertActiveMembers(db, { classId, courseId, source: request.source, override: request.override });
    const members = await countActiveMembers(db, classId);
    result.queued += inserted;
    result.duplicates += Math.max(0, members - inserted);
    if (inserted < members) {
      result.requeued += await refreshExisting(db, { courseId, classId, source: request.source, override: request.override, learners: { kind: 'active-members' } });
    }
  }
  // Re-queued rows were counted as duplicates when their insert was skipped.
  result.duplicates -= result.requeued;
  return result;
}

/** Refreshes existing rows for member-list requests, grouped by course, class, source and override. */
async function refreshMemberRows(db: Database, rows: readonly NewQueueRow[]): Promise<number> {
  const groups = new Map<string, { row: NewQueueRow; userIds: string[] }>();
  for (const row of rows) {
    const key = `${row.courseId}|${row.classId ?? ''}|${row.source}|${row.override}`;
    const group = groups.get(key) ?? { row, userIds: [] };
    group.userIds.push(row.userId);
    groups.set(key, group);
  }
  let requeued = 0;
  for (const { row, userIds } of groups.values()) {
    requeued += await refreshExisting(db, { courseId: row.courseId, classId: row.classId, source: row.source, override: row.override, learners: { kind: 'members', userIds } });
  }
  return requeued;
}
