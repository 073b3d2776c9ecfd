/**
 * Who may read a learner's rescoped course: a pure function of the facts, so an HTTP
 * front can use it unchanged.
 *
 * - Independent learning (no class): only the learner themself; rescope applies only to
 *   a live course with a version.
 * - In class: the class exists and is not deleted, its course is the requested course,
 *   the target is an active member, and the caller is the target, the class's creator
 *   or a collaborator. Rescope applies only when the class's setting is on.
 *
 * Access is decided before applicability, so a caller who may not read learns nothing
 * about the class's or course's settings.
 */
import type { ClassFacts, CourseFacts } from './reference-data.js';

export interface AccessFacts {
  callerId: string;
  targetId: string;
  courseId: string;
  classId: string | null;
  /** The course (independent learning), or null if there is none with that id. */
  course: CourseFacts | null;
  /** The class (in class), or null if there is none with that id. */
  klass: ClassFacts | null;
  /** Whether the target is an active member of the class. */
  targetIsActiveMember: boolean;
  /** Whether the caller is a collaborator (co-teacher) of the class. */
  callerIsCollaborator: boolean;
}

export type AccessDecision =
  | { kind: 'allowed'; as: 'learner' | 'teacher' | 'co-teacher' }
  | { kind: 'forbidden'; reason: string }
  | { kind: 'not-applicable'; reason: string };

export function decideAccess(f: AccessFacts): AccessDecision {
  const forbidden = (reason: string): AccessDecision => ({ kind: 'forbidden', reason });
  const notApplicable = (reason: string): AccessDecision => ({ kind: 'not-applicable', reason });

  if (f.classId === null) {
    if (f.callerId !== f.targetId) {
      return forbidden(`in independent learning only the learner may read their rescoped course; the caller ${f.callerId} is not ${f.targetId}`);
    }
    if (!f.course) return notApplicable(`course ${f.courseId} does not exist`);
    if (f.course.isDeleted) return notApplicable(`course ${f.courseId} is deleted`);
    if (f.course.version === null) return notApplicable(`course ${f.courseId} has no version: rescope does not apply to it in independent learning`);
    return { kind: 'allowed', as: 'learner' };
  }

  const k = f.klass;
  if (!k) return forbidden(`class ${f.classId} does not exist`);
  if (k.isDeleted) return forbidden(`class ${f.classId} is deleted`);
  if (k.courseId !== f.courseId) {
    return forbidden(`class ${f.classId} is not a class of course ${f.courseId} (its course is ${k.courseId ?? 'not set'})`);
  }
  if (!f.targetIsActiveMember) return forbidden(`user ${f.targetId} is not an active member of class ${f.classId}`);
  let as: 'learner' | 'teacher' | 'co-teacher';
  if (f.callerId === f.targetId) as = 'learner';
  else if (f.callerId === k.creatorId) as = 'teacher';
  else if (f.callerIsCollaborator) as = 'co-teacher';
  else return forbidden(`the caller ${f.callerId} is neither the learner nor a teacher or co-teacher of class ${f.classId}`);
  if (!k.rescope) return notApplicable(`class ${f.classId} has rescope off`);
  return { kind: 'allowed', as };
}
