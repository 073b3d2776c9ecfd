/**
 * Where a request's rows go, decided from the class and course facts alone (no I/O):
 * the class must exist and be neither deleted nor archived, its course is the course,
 * and its rescope setting must be on; independent learning needs a live course with a
 * version.
 */
import type { EnqueueRequest } from './enqueue-request.js';
import type { ClassFacts, CourseFacts } from './reference-data.js';

export type RejectionKind = 'invalid' | 'not-found' | 'not-applicable';

export type Target =
  | { kind: 'queue'; courseId: string; classId: string | null }
  | { kind: 'rescope-off'; classId: string }
  | { kind: 'rejected'; reason: RejectionKind; error: string };

export function resolveTarget(
  request: EnqueueRequest,
  classes: ReadonlyMap<string, ClassFacts>,
  courses: ReadonlyMap<string, CourseFacts>,
): Target {
  const reject = (reason: RejectionKind, error: string): Target => ({ kind: 'rejected', reason, error });
  if (request.classId !== null) {
    const klass = classes.get(request.classId);
    if (!klass) return reject('not-found', `class ${request.classId} does not exist`);
    if (klass.isDeleted) return reject('not-applicable', `class ${request.classId} is deleted`);
    if (klass.isArchived) return reject('not-applicable', `class ${request.classId} is archived`);
    if (klass.courseId === null) return reject('not-applicable', `class ${request.classId} has no course assigned`);
    if (request.courseId !== null && request.courseId !== klass.courseId) {
      return reject('invalid', `course ${request.courseId} is not the course of class ${request.classId} (its course is ${klass.courseId})`);
    }
    if (!klass.rescope) return { kind: 'rescope-off', classId: klass.id };
    return { kind: 'queue', courseId: klass.courseId, classId: klass.id };
  }
  // Independent learning: only oob requests get here (parseEnqueueRequest requires a class otherwise).
  const courseId = request.courseId;
  if (courseId === null) return reject('invalid', 'a request without classId needs courseId');
  const course = courses.get(courseId);
  if (!course) return reject('not-found', `course ${courseId} does not exist`);
  if (course.isDeleted) return reject('not-applicable', `course ${courseId} is deleted`);
  if (course.version === null) {
    return reject('not-applicable', `course ${courseId} has no version: rescope does not apply to it in independent learning`);
  }
  return { kind: 'queue', courseId, classId: null };
}
