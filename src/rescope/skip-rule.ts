/**
 * The skip rule, the same one the navigate map uses, as pure functions (no I/O).
 *
 * - An item is skipped when it has at least one competency and the learner has completed
 *   or mastered every one of them. An item with no competency is never skipped.
 * - An item whose format is not one of the four known formats is never skipped: the
 *   stored content has no list to name it in, and hiding what we cannot name is worse
 *   than showing it.
 * - A lesson is skipped when it has items and all of them are skipped; a unit likewise
 *   with its lessons. A lesson is known by its id: the same lesson id under two units
 *   (bad data, but the rule must not lie about it) is one lesson, skipped only when every
 *   item with that id is, and listed once.
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

/**
 * Everything per item/lesson/unit as arrays by position, so a learner's pass allocates
 * little. Item positions follow `items`; lesson positions are distinct lesson ids in
 * order of first appearance; unit positions follow `units`.
 */
export interface CourseIndex {
  /** Per competency code, the positions of the items that need it. */
  itemsByCompetency: ReadonlyMap<string, readonly number[]>;
  /** Per item position: distinct competencies, and whether it may be skipped at all. */
  competencyCount: Uint16Array;
  skippable: Uint8Array;
  itemLesson: Uint32Array;
  /** Per lesson position: how many items carry its id (in whichever units), and the units it appears under. */
  lessonSize: Uint32Array;
  lessonUnits: ReadonlyArray<readonly number[]>;
  lessonIds: readonly string[];
  /** Per unit position: how many distinct lessons it holds. */
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
  const lessonPosition = new Map<string, number>();
  const lessonUnits: number[][] = [];
  const lessonSize: number[] = [];
  const itemsByCompetency = new Map<string, number[]>();
  const competencyCount = new Uint16Array(items.length);
  const skippable = new Uint8Array(items.length);
  const itemLesson = new Uint32Array(items.length);
  let position = 0;
  tree.forEach((unit, unitPosition) => {
    for (const lesson of unit.lessons) {
      let lp = lessonPosition.get(lesson.id);
      if (lp === undefined) {
        lessonPosition.set(lesson.id, (lp = lessonUnits.length));
        lessonUnits.push([]);
        lessonSize.push(0);
      }
      lessonUnits[lp]!.push(unitPosition);
      lessonSize[lp]! += lesson.items.length;
      for (const item of lesson.items) {
        const codes = new Set(item.competencies);
        competencyCount[position] = Math.min(codes.size, 0xffff);
        skippable[position] = codes.size > 0 && isKnownFormat(item.format) ? 1 : 0;
        itemLesson[position] = lp;
        for (const code of codes) {
          let list = itemsByCompetency.get(code);
          if (!list) itemsByCompetency.set(code, (list = []));
          list.push(position);
        }
        position++;
      }
    }
  });
  return {
    itemsByCompetency,
    competencyCount,
    skippable,
    itemLesson,
    lessonSize: Uint32Array.from(lessonSize),
    lessonUnits,
    lessonIds: [...lessonPosition.keys()],
    // A unit holds a lesson id once (the tree groups lessons by id within a unit).
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

/** What a learner skips, as ascending positions of items, lessons and units (see CourseIndex). */
export interface SkipPositions {
  items: readonly number[];
  lessons: readonly number[];
  units: readonly number[];
}

/**
 * Lessons and units skipped given the skipped items' positions (ascending). Work is
 * proportional to the skipped items, not to the course: a lesson is skipped when its
 * count of skipped items reaches its size, a unit when its count of skipped lessons does.
 */
export function skipPositionsOf(course: CourseStructure, items: readonly number[]): SkipPositions {
  const { itemLesson, lessonSize, lessonUnits, unitSize } = course.index;
  const lessons: number[] = [];
  const units: number[] = [];
  if (items.length === 0) return { items, lessons, units };
  const skippedInLesson = new Uint32Array(lessonSize.length);
  const skippedLessonsInUnit = new Uint32Array(unitSize.length);
  for (const p of items) {
    const lesson = itemLesson[p]!;
    if (++skippedInLesson[lesson] !== lessonSize[lesson]) continue;
    lessons.push(lesson);
    for (const unit of lessonUnits[lesson]!) {
      if (++skippedLessonsInUnit[unit] === unitSize[unit]) units.push(unit);
    }
  }
  // A lesson whose items are spread over units completes at its last item, out of order.
  return { items, lessons: lessons.sort((a, b) => a - b), units: units.sort((a, b) => a - b) };
}

/** What the learner skips, from the competency codes they completed or mastered. */
export function skipPositions(course: CourseStructure, achieved: Iterable<string>): SkipPositions {
  return skipPositionsOf(course, skippedItemPositions(course, achieved));
}

/** The stored document for a learner's skip positions: ids in course order. */
export function contentOf(course: CourseStructure, skips: SkipPositions): SkippedContent {
  const content = emptyContent();
  for (const p of skips.items) {
    const item = course.items[p]!;
    content[formatLists[item.format as ItemFormat]].push(item.id);
  }
  content.lessons = skips.lessons.map((l) => course.index.lessonIds[l]!);
  content.units = skips.units.map((u) => course.index.unitIds[u]!);
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
  return contentOf(course, skipPositionsOf(course, positions));
}

/** What the learner may skip, from the competency codes they completed or mastered. */
export function skippedContentFor(course: CourseStructure, achieved: Iterable<string>): SkippedContent {
  return contentOf(course, skipPositions(course, achieved));
}
