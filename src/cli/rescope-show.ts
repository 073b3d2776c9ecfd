import { ExitCode } from '../errors.js';
import type { CommandSpec, Outcome } from './command.js';
import { uuidOption } from './options.js';

interface ShowOptions {
  token?: string;
  course?: string;
  class?: string;
  user?: string;
  explain?: boolean;
}

export const rescopeShowCommand: CommandSpec<ShowOptions> = {
  name: 'rescope-show',
  summary: "print a learner's rescoped course, or queue it when it is not computed yet",
  description:
    'Looks the session token up in Redis (<session prefix><token> → {"user_id":…}) and applies the access rule: ' +
    'in independent learning (no --class) only the learner themself may read; in a class, the class must exist, ' +
    'not be deleted and be a class of --course, the learner must be an active member, and the caller must be the ' +
    'learner, the class creator or a co-teacher. Prints the stored content exactly as stored (exit 0). When none is ' +
    'stored yet, queues an oob request for it and exits 3. Exit 4: unauthorised or forbidden (the message names the ' +
    'rule); exit 5: rescope does not apply (class setting off, course without a version, or nothing stored and the ' +
    'request cannot be queued, e.g. an archived class).',
  settings: ['sessionPrefix', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .requiredOption('--token <token>', "the caller's session token")
      .requiredOption('--course <uuid>', 'the course')
      .option('--class <uuid>', 'the class (omit for independent learning)')
      .option('--user <uuid>', "the learner to read (default: the session's user)")
      .option('--explain', 'with the stored content, why: each unit, lesson and item, skipped or not, and the competencies behind it');
  },
  async run({ runtime, config, log }, opts): Promise<Outcome> {
    const [{ rescopeShow }, { assertTokenShape }] = await Promise.all([import('../rescope/show.js'), import('../rescope/sessions.js')]);
    const token = opts.token ?? '';
    assertTokenShape(token);
    const courseId = uuidOption(opts.course, '--course')!;
    const classId = uuidOption(opts.class, '--class') ?? null;
    const userId = uuidOption(opts.user, '--user');
    const [db, redis] = await runtime.both();
    const outcome = await rescopeShow(db, redis.client, { token, courseId, classId, userId }, { sessionPrefix: config.sessionPrefix, log });
    switch (outcome.status) {
      case 'found': {
        const found = { result: { status: 'found', content: JSON.parse(outcome.content) as unknown }, human: outcome.content };
        if (!opts.explain) return found;
        // Only after the access rule allowed it: --explain never shows more than rescope-show would.
        const { explainStored } = await import('./rescope-explain.js');
        const why = await explainStored(db, outcome.learner, outcome.content);
        return { result: { ...found.result, ...why.result }, human: `${found.human}\n${why.human}` };
      }
      case 'queued': {
        const where = outcome.learner.classId ? `class ${outcome.learner.classId}` : 'independent learning';
        return {
          exitCode: ExitCode.notFound,
          result: { status: 'queued', alreadyQueued: outcome.alreadyQueued },
          human: `not found: no rescoped content yet for learner ${outcome.learner.userId} in course ${outcome.learner.courseId} (${where}); ${
            outcome.alreadyQueued ? 'an oob request was already queued' : 'queued an oob request'
          }; it is computed by the next dispatch and process`,
        };
      }
      case 'unauthorised':
        return { exitCode: ExitCode.forbidden, result: { status: 'unauthorised', reason: outcome.reason }, human: `unauthorised: ${outcome.reason}` };
      case 'forbidden':
        return { exitCode: ExitCode.forbidden, result: { status: 'forbidden', reason: outcome.reason }, human: `forbidden: ${outcome.reason}` };
      case 'not-applicable':
        return { exitCode: ExitCode.notApplicable, result: { status: 'not-applicable', reason: outcome.reason }, human: `not applicable: ${outcome.reason}` };
    }
  },
};
