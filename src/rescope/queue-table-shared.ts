/** What the parts of the queue table module share: the table's name, its limits, row shapes. */
import { toDate, toNumber, toUuid } from '../db/values.js';

export const queueTable = 'rescope_queue';

/** Longest error text kept on a row (the column is varchar(2000)). */
export const maxErrorLength = 2000;

/** What every queue row read back carries: its id, its learner, course and class, its attempts. */
export interface QueueRowBase {
  id: number;
  userId: string;
  courseId: string;
  classId: string | null;
  attempts: number;
}

export function toQueueRowBase(r: Record<string, unknown>): QueueRowBase {
  return {
    id: toNumber(r.id),
    userId: toUuid(r.user_id),
    courseId: toUuid(r.course_id),
    classId: r.class_id === null ? null : toUuid(r.class_id),
    attempts: toNumber(r.attempts),
  };
}

/** A row that used up its attempts, as an operator sees it. */
export interface FailedRow extends QueueRowBase {
  lastError: string | null;
  /** When it failed (its last change). */
  failedAt: Date | null;
}

/** The columns toFailedRow reads. */
export const failedRowColumns = ['id', 'user_id', 'course_id', 'class_id', 'attempts', 'last_error', 'updated_at'] as const;

export function toFailedRow(r: Record<string, unknown>): FailedRow {
  return {
    ...toQueueRowBase(r),
    lastError: r.last_error === null ? null : String(r.last_error),
    failedAt: toDate(r.updated_at),
  };
}
