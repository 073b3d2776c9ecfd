/**
 * Why a learner skips what they skip: for each unit, lesson and item in course order,
 * skipped or not, and each item's competencies with the learner's status. Pure: it reads
 * the skip positions the rule itself computed (skipPositions) and the course's index,
 * and never decides anything a second time.
 */
import {
  type CourseStructure,
  type SkipPositions,
  type SkippedContent,
  contentOf,
  isKnownFormat,
  skipPositions,
} from './skip-rule.js';

export type CompetencyStatus = 'completed' | 'mastered' | 'none';

export interface ExplainedItem {
  id: string;
  format: string;
  skipped: boolean;
  competencies: Array<{ code: string; status: CompetencyStatus }>;
  /** Why an item is not skipped. */
  reason?: 'no competency' | 'format never skipped' | 'not every competency completed or mastered';
}

export interface ExplainedLesson {
  id: string;
  skipped: boolean;
  items: ExplainedItem[];
}

export interface ExplainedUnit {
  id: string;
  skipped: boolean;
  lessons: ExplainedLesson[];
}

export interface Explanation {
  units: ExplainedUnit[];
  /** The document the rule gives from these statuses: what `process` would store now. */
  content: SkippedContent;
}

/**
 * The explanation of `course` for a learner whose completed or mastered competencies are
 * `statuses` (code → status; other statuses are not achievements and are left out).
 */
export function explainSkips(course: CourseStructure, statuses: ReadonlyMap<string, 'completed' | 'mastered'>): Explanation {
  const skips: SkipPositions = skipPositions(course, statuses.keys());
  const items = new Set(skips.items);
  const lessons = new Set(skips.lessons);
  const units = new Set(skips.units);
  const { competencyCount, itemLesson, skippable } = course.index;
  let position = 0;
  const explained = course.units.map((unit, unitPosition) => ({
    id: unit.id,
    skipped: units.has(unitPosition),
    lessons: unit.lessons.map((lesson) => {
      // Every item of a lesson maps to the same lesson position (the lesson's id).
      const lessonPosition = itemLesson[position]!;
      return {
        id: lesson.id,
        skipped: lessons.has(lessonPosition),
        items: lesson.items.map((item) => {
          const p = position++;
          const explainedItem: ExplainedItem = {
            id: item.id,
            format: item.format,
            skipped: items.has(p),
            competencies: [...new Set(item.competencies)].map((code) => ({ code, status: statuses.get(code) ?? 'none' })),
          };
          if (!explainedItem.skipped) {
            explainedItem.reason =
              competencyCount[p] === 0 ? 'no competency' : !skippable[p] && !isKnownFormat(item.format) ? 'format never skipped' : 'not every competency completed or mastered';
          }
          return explainedItem;
        }),
      };
    }),
  }));
  return { units: explained, content: contentOf(course, skips) };
}
