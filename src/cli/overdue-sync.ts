import type { CommandSpec } from './command.js';
import { plural } from './options.js';

interface OverdueSyncOptions {
  dryRun?: boolean;
}

export const overdueSyncCommand: CommandSpec<OverdueSyncOptions> = {
  name: 'overdue-sync',
  summary: "rewrite every school's home-page notification (overdue checks, processing errors) in Redis",
  description:
    'Reads, in one query grouped by school, the pupils whose current live check was logged into more than ' +
    '--overdue-minutes ago and not received, and those whose current check failed processing (pupils with an ' +
    'attendance code excluded). Writes one entry per school under <notification prefix><school UUID> with a TTL, ' +
    'and removes the entries of schools the last run notified that no longer qualify, using its own index set ' +
    '(no KEYS, no reads of notifications, nothing outside its keys). A run that finds another one running does nothing. ' +
    'Its run lock lives --overdue-sync-lock-seconds and is renewed while the run is alive; a run that lost it (paused or ' +
    'starved that long) writes nothing more and exits 1. On SIGTERM during the query it lets go of the lock, writes nothing and exits 1.',
  settings: ['overdueAfterMinutes', 'notificationTtlSeconds', 'notificationPrefix', 'notificationIndexKey', 'notificationFormat', 'overdueSyncLockSeconds', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd.option('--dry-run', 'print what would be written and removed, and write nothing');
  },
  async run({ runtime, config, log, io, showProgress }, opts) {
    const [{ createProgress }, { overdueSync }] = await Promise.all([import('../log/progress.js'), import('../notifications/overdue-sync.js')]);
    const progress = createProgress({ label: 'overdue-sync', unit: 'schools', total: null, stream: io.stderr, enabled: showProgress });
    let result;
    try {
      // The database and Redis open at once, and both promises go to overdueSync as they
      // are: it awaits them together, so a failure of either (Redis refused while
      // PostgreSQL is still opening) is the run's one error, never an unobserved rejection.
      result = await overdueSync(runtime.db(), runtime.redis().then((r) => r.client), {
        ...config,
        dryRun: opts.dryRun === true,
        signal: io.signal,
        log,
        onSchools: (n) => progress.setValue(n),
      });
    } finally {
      progress.stop();
    }
    const { wouldWrite, wouldRemove, ...summary } = result;
    if (wouldWrite && wouldRemove) {
      return {
        result: { dryRun: true, ...summary, write: wouldWrite, remove: wouldRemove },
        human: [
          ...wouldWrite.map((w) => `SET ${w.key} ${w.value} EX ${config.notificationTtlSeconds}`),
          ...wouldRemove.map((key) => `UNLINK ${key}`),
          ...(summary.lockHeld ? [`note: ${summary.lockHeld}`] : []),
          `dry run: would write ${plural(summary.schools, 'school notification')} and remove ${plural(summary.removed, 'entry', 'entries')}; nothing written`,
        ].join('\n'),
      };
    }
    if (summary.skipped) return { result: { ...summary }, human: `skipped: ${summary.skipped}` };
    return {
      result: { ...summary },
      human:
        `notified ${plural(summary.schools, 'school')} (${plural(summary.overdueChecks, 'overdue check')}, ` +
        `${plural(summary.processingErrors, 'pupil')} with a processing error); removed ${plural(summary.removed, 'entry', 'entries')} ` +
        `of schools that no longer qualify (sql ${summary.timings.sqlMs} ms, redis ${summary.timings.redisMs} ms)`,
    };
  },
};
