/**
 * Why a learner is queued, and how urgent that is. Lower priority numbers go first: an
 * `oob` request usually means a learner is waiting on a page.
 */

export const sources = ['oob', 'join.class', 'assign.course.to.class', 'rescope'] as const;
export type Source = (typeof sources)[number];

export const sourcePriority: Readonly<Record<Source, number>> = Object.freeze({
  oob: 1,
  'join.class': 2,
  'assign.course.to.class': 3,
  rescope: 4,
});

/** Sources that name their learners; the others queue every active member of the class. */
export const memberListSources: ReadonlySet<Source> = new Set<Source>(['oob', 'join.class']);

export function isSource(value: unknown): value is Source {
  return typeof value === 'string' && (sources as readonly string[]).includes(value);
}
