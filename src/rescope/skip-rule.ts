/**
 * The skip rule, the same one the navigate map uses, as pure functions (no I/O).
 *
 * - An item is skipped when it has at least one competency and the learner has completed
 *   or mastered every one of them. An item with no competency is never skipped.
 * - An item whose format is not one of the four known formats is never skipped: the
 *   stored content has no list to name it in, and hiding what we cannot name is worse
 *   than showing it.
 * - A lesson is skipped when it has items and all of them are skipped; a unit likewise
 *   with its lessons.
 */

export const formatLists = Object.freeze({
  assessment: 'assessments',
  collection: 'collections',
  'assessment-external': 'assessmentsExternal',
  'collection-external': 'collectionsExternal',
} as const);

export type ItemFormat = keyof typeof formatLists;

export interface CourseItem {
  id: string;
  unitId: string;
  lessonId: string;
  format: string;
  sequence: number;
  competencies: readonly string[];
}

/** A course's live items in order, with the unit → lesson → item tree derived once. */
export interface CourseStructure {
  courseId: string;
  /** Items in course order. */
  items: readonly CourseItem[];
  /** Units in order of their first item; each with its lessons in order. */
  units: ReadonlyArray<{ id: string; lessons: ReadonlyArray<{ id: string; items: readonly CourseItem[] }> }>;
  /** Indexes for the per-learner computation, built once per course. */
  index: CourseIndex;
}

/** Everything per item/lesson/unit as arrays by position, so a learner's pass allocates little. */
export interface CourseIndex {
  /** Per competency code, the positions of the items that need it. */
  itemsByCompetency: ReadonlyMap<string, readonly number[]>;
  /** Per item position: distinct competencies, and whether it may be skipped at all. */
  competencyCount: Uint16Array;
  skippable: Uint8Array;
  itemLesson: Uint32Array;
  /** Per lesson position: its items, its unit. */
  lessonSize: Uint32Array;
  lessonUnit: Uint32Array;
  lessonIds: readonly string[];
  /** Per unit position: its lessons. */
  unitSize: Uint32Array;
  unitIds: readonly string[];
}

/** The stored document; ids as strings, keys in this order. */
export interface SkippedContent {
  units: string[];
  lessons: string[];
  assessments: string[];
  collections: string[];
  assessmentsExternal: string[];
  collectionsExternal: string[];
}

export function emptyContent(): SkippedContent {
  return { units: [], lessons: [], assessments: [], collections: [], assessmentsExternal: [], collectionsExternal: [] };
}

export function isKnownFormat(format: string): format is ItemFormat {
  return Object.hasOwn(formatLists, format);
}

/** Orders items by sequence (then id) and groups them into units and lessons by first appearance. */
export function buildCourseStructure(courseId: string, items: readonly CourseItem[]): CourseStructure {
  const ordered = [...items].sort((a, b) => a.sequence - b.sequence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const units = new Map<string, Map<string, CourseItem[]>>();
  for (const item of ordered) {
    let lessons = units.get(item.unitId);
    if (!lessons) units.set(item.unitId, (lessons = new Map()));
    let lessonItems = lessons.get(item.lessonId);
    if (!lessonItems) lessons.set(item.lessonId, (lessonItems = []));
    lessonItems.push(item);
  }
  const tree = [...units].map(([id, lessons]) => ({ id, lessons: [...lessons].map(([lessonId, lessonItems]) => ({ id: lessonId, items: lessonItems })) }));
  // Items in tree order (unit by unit), so positions follow the order content is listed in.
  const inTreeOrder = tree.flatMap((u) => u.lessons.flatMap((l) => l.items));
  return { courseId, items: inTreeOrder, units: tree, index: buildIndex(tree, inTreeOrder) };
}

function buildIndex(tree: CourseStructure['units'], items: readonly CourseItem[]): CourseIndex {
  const lessons = tree.flatMap((u, unit) => u.lessons.map((l) => ({ ...l, unit })));
  const itemsByCompetency = new Map<string, number[]>();
  const competencyCount = new Uint16Array(items.length);
  const skippable = new Uint8Array(items.length);
  const itemLesson = new Uint32Array(items.length);
  let position = 0;
  lessons.forEach((lesson, lessonPosition) => {
    for (const item of lesson.items) {
      const codes = new Set(item.competencies);
      competencyCount[position] = Math.min(codes.size, 0xffff);
      skippable[position] = codes.size > 0 && isKnownFormat(item.format) ? 1 : 0;
      itemLesson[position] = lessonPosition;
      for (const code of codes) {
        let list = itemsByCompetency.get(code);
        if (!list) itemsByCompetency.set(code, (list = []));
        list.push(position);
      }
      position++;
    }
  });
  return {
    itemsByCompetency,
    competencyCount,
    skippable,
    itemLesson,
    lessonSize: Uint32Array.from(lessons, (l) => l.items.length),
    lessonUnit: Uint32Array.from(lessons, (l) => l.unit),
    lessonIds: lessons.map((l) => l.id),
    unitSize: Uint32Array.from(tree, (u) => u.lessons.length),
    unitIds: tree.map((u) => u.id),
  };
}

/**
 * Positions (in course order) of the items the learner may skip: every competency of
 * the item is among `achieved`, it has at least one, and its format is known. Work is
 * proportional to the learner's codes, not to the size of the course.
 */
export function skippedItemPositions(course: CourseStructure, achieved: Iterable<string>): number[] {
  const { itemsByCompetency, competencyCount, skippable } = course.index;
  const matched = new Uint16Array(course.items.length);
  const skipped: number[] = [];
  for (const code of new Set(achieved)) {
    const positions = itemsByCompetency.get(code);
    if (!positions) continue;
    for (const p of positions) {
      if (++matched[p] === competencyCount[p] && skippable[p]) skipped.push(p);
    }
  }
  return skipped.sort((a, b) => a - b);
}

/** Ids of the items all of whose competencies are among `achieved` (and that may be skipped). */
export function coveredItemIds(course: CourseStructure, achieved: Iterable<string>): Set<string> {
  return new Set(skippedItemPositions(course, achieved).map((p) => course.items[p]!.id));
}

function contentFromPositions(course: CourseStructure, positions: readonly number[]): SkippedContent {
  const content = emptyContent();
  if (positions.length === 0) return content;
  const { itemLesson, lessonSize, lessonUnit, lessonIds, unitSize, unitIds } = course.index;
  const skippedInLesson = new Uint32Array(lessonSize.length);
  const skippedLessonsInUnit = new Uint32Array(unitSize.length);
  for (const p of positions) {
    const item = course.items[p]!;
    content[formatLists[item.format as ItemFormat]].push(item.id);
    const lesson = itemLesson[p]!;
    // Positions are ascending, so a lesson (and then a unit) completes in course order.
    if (++skippedInLesson[lesson] === lessonSize[lesson]) {
      content.lessons.push(lessonIds[lesson]!);
      const unit = lessonUnit[lesson]!;
      if (++skippedLessonsInUnit[unit] === unitSize[unit]) content.units.push(unitIds[unit]!);
    }
  }
  return content;
}

/**
 * What the learner may skip in `course`, given the ids of the items whose competencies
 * they have all completed or mastered. Items without competencies or of an unknown
 * format are not skipped even when listed.
 */
export function skippedContent(course: CourseStructure, coveredIds: ReadonlySet<string>): SkippedContent {
  const positions: number[] = [];
  course.items.forEach((item, p) => {
    if (coveredIds.has(item.id) && course.index.skippable[p]) positions.push(p);
  });
  return contentFromPositions(course, positions);
}

/** What the learner may skip, from the competency codes they completed or mastered. */
export function skippedContentFor(course: CourseStructure, achieved: Iterable<string>): SkippedContent {
  return contentFromPositions(course, skippedItemPositions(course, achieved));
}
