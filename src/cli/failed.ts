import type { CommandSpec } from './command.js';
import { formatCount } from './format.js';
import { integerOption, plural, uuidOption } from './options.js';

interface FailedOptions {
  limit?: string;
  class?: string;
  course?: string;
}

export const failedCommand: CommandSpec<FailedOptions> = {
  name: 'failed',
  summary: 'the failed rows, newest first, and how many share each error',
  description:
    'Lists the queue rows that used up their attempts, newest first, with learner, course, class, attempts, when ' +
    'they failed and the last error; first how many rows share each error (errors that differ only in ids or ' +
    'numbers count as one). --class and --course narrow the list. --json: {"total":n,"byError":[{"error","rows"}],"rows":[…]}.',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .option('--limit <n>', 'list at most this many rows (the counts cover them all)', '50')
      .option('--class <uuid>', 'only the failed rows of this class')
      .option('--course <uuid>', 'only the failed rows of this course');
  },
  async run({ runtime }, opts) {
    const limit = integerOption(opts.limit, '--limit', 1, 100_000, 50);
    const filter = { classId: uuidOption(opts.class, '--class'), courseId: uuidOption(opts.course, '--course') };
    const { listFailed } = await import('../rescope/queue-table.js');
    const list = await listFailed(await runtime.db(), filter, limit);
    const lines = [`${plural(list.total, 'failed row')}${list.total > list.rows.length ? ` (newest ${formatCount(list.rows.length)} listed)` : ''}`];
    if (list.byError.length > 0) {
      lines.push('by error:');
      const width = Math.max(...list.byError.map((g) => formatCount(g.rows).length));
      for (const g of list.byError) lines.push(`  ${formatCount(g.rows).padStart(width)}  ${g.error}`);
      lines.push('newest first:');
    }
    for (const r of list.rows) {
      lines.push(
        `  #${r.id}  ${r.failedAt?.toISOString() ?? '?'}  learner ${r.userId}  course ${r.courseId}  ${r.classId ? `class ${r.classId}` : 'independent learning'}  ${plural(r.attempts, 'attempt')}`,
        `      ${r.lastError ?? '(no error recorded)'}`,
      );
    }
    return { result: { total: list.total, byError: list.byError, rows: list.rows }, human: lines.join('\n') };
  },
};
