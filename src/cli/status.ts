import { ConfigError, ExitCode } from '../errors.js';
import type { CommandSpec } from './command.js';
import { formatCount, formatDuration, table } from './format.js';
import { plural } from './options.js';

interface StatusOptions {
  strict?: boolean;
}

export const statusCommand: CommandSpec<StatusOptions> = {
  name: 'status',
  summary: 'whether the system is healthy: queue by state, failures, bus, notifications',
  description:
    'Queue rows by state (queued, dispatched, processing, failed), how long the oldest due queued row has waited, rows past ' +
    'their lease, the oldest failed rows with their errors, rescoped content, ids on the bus, the number of school ' +
    'notifications and when overdue-sync last ran. "healthy" is false, with the problems listed, when rows failed, ' +
    'rows sit past their lease, the oldest due queued row waited longer than the lease, overdue-sync has not succeeded for ' +
    'longer than the notification TTL (--ttl-seconds), a Redis key it reads holds another type than mtc-batch keeps there ' +
    '(named, with its setting; every other figure is still shown), overdue-sync\'s lock key holds a value no run wrote ' +
    '(without a lifetime, or of another type: no run can start until it is deleted), its last-run key a string with a ' +
    'lifetime no run gives it (then its age is not read), or Redis cannot be reached ' +
    '(then the database part is still shown and the exit code is 1). With --strict, any problem exits 1 ' +
    '(for probes and CI smoke tests).',
  settings: ['leaseSeconds', 'busKey', 'notificationIndexKey', 'notificationTtlSeconds', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd.option('--strict', 'exit 1 when the system is not healthy (default: only when Redis cannot be reached)');
  },
  async run({ runtime, config }, opts) {
    const { getStatus } = await import('../status/status.js');
    // Redis connects while the database answers; its failure is part of the status.
    const redis = runtime.redis().then((r) => r.client);
    redis.catch(() => undefined);
    const status = await getStatus(await runtime.db(), redis, config);
    // A Redis that answers but refuses the configuration (a database number it does not
    // have, a cluster node given as one server) is a configuration error, not an outage.
    await redis.catch((err: unknown) => {
      if (err instanceof ConfigError) throw err;
    });
    const { queue } = status;
    const age = status.oldestQueuedAgeSeconds;
    const rows: Array<[string, string]> = [
      ['queued', `${formatCount(queue.queued)}${age === null ? '' : `  (oldest due waited ${formatDuration(age)})`}`],
      ['dispatched', formatCount(queue.dispatched)],
      ['processing', formatCount(queue.processing)],
      // The lease covers both states in flight: one line for both, so it never reads as "n of fewer".
      ...(status.pastLease > 0 ? [['in flight past lease', `${formatCount(status.pastLease)}  (dispatched or processing; dispatch puts them back)`] as [string, string]] : []),
      ['failed', formatCount(queue.failed)],
      ['rescoped content', formatCount(status.rescopedContent)],
    ];
    if ('error' in status.redis) rows.push(['redis', 'failed (below)']);
    else {
      // A key of another type is not read (its problem is listed below); the others are.
      const { bus, notifications, lastOverdueSyncSecondsAgo: last, lastOverdueSyncRead } = status.redis;
      const lastRun = !lastOverdueSyncRead ? '  (last overdue-sync not read, below)' : last === null ? '' : `  (overdue-sync ${formatDuration(last)} ago)`;
      rows.push(['bus', bus === null ? 'not read (below)' : plural(bus, 'id')]);
      rows.push(['notifications', `${notifications === null ? 'not read (below)' : plural(notifications, 'school')}${lastRun}`]);
    }
    // Two schemas of one database are two systems: the header names the one read.
    const lines = [`status of ${status.schema === null ? '' : `schema ${status.schema} of `}${status.database}`, table(rows)];
    if (status.failedRows.length > 0) {
      lines.push(status.failedRows.length === 1 ? 'oldest failed row:' : 'oldest failed rows:');
      for (const f of status.failedRows) {
        lines.push(`  #${f.id} learner ${f.userId} course ${f.courseId}${f.classId ? ` class ${f.classId}` : ''}, ${plural(f.attempts, 'attempt')}: ${f.lastError ?? 'no error recorded'}`);
      }
    }
    lines.push(status.healthy ? 'healthy' : `NOT healthy:\n${status.problems.map((p) => `  - ${p}`).join('\n')}`);
    const failed = 'error' in status.redis || (opts.strict === true && !status.healthy);
    return { exitCode: failed ? ExitCode.failure : ExitCode.ok, result: { ...status }, human: lines.join('\n') };
  },
};
