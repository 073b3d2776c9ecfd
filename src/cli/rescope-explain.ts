/** `rescope-show --explain`: the stored content's reasons, as a tree for people and an array for scripts. */
import type { Database } from '../db/database.js';
import type { Learner } from '../rescope/content-table.js';
import type { ExplainedItem } from '../rescope/explain.js';

export interface ExplainedOutcome {
  result: { explain: unknown[]; explainMatchesStored: boolean };
  human: string;
}

const competencies = (item: ExplainedItem) =>
  item.competencies.length === 0 ? '' : ` (${item.competencies.map((c) => `${c.code === '' ? '""' : c.code} ${c.status}`).join(', ')})`;

export async function explainStored(db: Database, learner: Learner, stored: string): Promise<ExplainedOutcome> {
  const { explainLearner } = await import('../rescope/explain-learner.js');
  const explanation = await explainLearner(db, learner);
  // Stored documents keep the rule's key order, so equal documents are equal texts once parsed and written again.
  const matches = JSON.stringify(JSON.parse(stored)) === JSON.stringify(explanation.content);
  const mark = (skipped: boolean) => (skipped ? 'skipped' : 'not skipped');
  const lines = ['', 'why, by the skip rule, from the learner\'s competencies now:'];
  for (const unit of explanation.units) {
    lines.push(`unit ${unit.id}: ${mark(unit.skipped)}`);
    for (const lesson of unit.lessons) {
      lines.push(`  lesson ${lesson.id}: ${mark(lesson.skipped)}`);
      for (const item of lesson.items) {
        lines.push(`    ${item.format} ${item.id}: ${mark(item.skipped)}${item.reason ? `, ${item.reason}` : ''}${competencies(item)}`);
      }
    }
  }
  if (explanation.units.length === 0) lines.push('the course has no live items');
  if (!matches) {
    lines.push(
      'the stored content differs from what these competencies give now (they changed since it was computed); ' +
        `queue the learner with --override to recompute it, e.g. mtc-batch enqueue --source oob ${learner.classId ? `--class ${learner.classId}` : `--course ${learner.courseId}`} --member ${learner.userId} --override`,
    );
  }
  return { result: { explain: explanation.units, explainMatchesStored: matches }, human: lines.join('\n') };
}
