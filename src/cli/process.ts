import type { CommandSpec } from './command.js';
import { integerOption, plural } from './options.js';

interface ProcessCommandOptions {
  max?: string;
  waitSeconds?: string;
}

export const processCommand: CommandSpec<ProcessCommandOptions> = {
  name: 'process',
  summary: 'compute and store rescoped content for the ids on the bus, until it is empty',
  description:
    'Pops queue ids from the bus in batches (--batch-size), with up to --concurrency batches at once. ' +
    'For each batch: claims the rows still dispatched and not yet rescoped, computes what each learner may ' +
    'skip with set-based queries, and stores the content and deletes the rows atomically (one statement on PostgreSQL, one transaction elsewhere). A row that ' +
    'fails is retried later with a back-off, and marked failed after --max-attempts. Stops when the bus is ' +
    'empty (after --wait-seconds of polling) or after --max rows; on SIGTERM it finishes or releases its current batches and exits.',
  settings: ['batchSize', 'concurrency', 'maxAttempts', 'retryDelaySeconds', 'busKey', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .option('--max <n>', 'stop after this many rows (default: until the bus is empty)')
      .option('--wait-seconds <n>', 'when the bus is empty, keep polling it this long before exiting, 0 to 3600 (default: 0, exit at once)');
  },
  async run({ runtime, config, log, io, showProgress }, opts) {
    const max = integerOption(opts.max, '--max', 1, Number.MAX_SAFE_INTEGER);
    const waitSeconds = integerOption(opts.waitSeconds, '--wait-seconds', 0, 3600, 0);
    const [{ createProgress }, { RescopeBus }, { processQueue }] = await Promise.all([
      import('../log/progress.js'),
      import('../rescope/bus.js'),
      import('../rescope/process-queue.js'),
    ]);
    // One connection per batch in flight, and one for everything else.
    const [db, redis] = await runtime.both({ poolSize: config.concurrency + 1 });
    const bus = new RescopeBus(redis.client, config.busKey);
    // The bus's length only sizes a progress bar: no round trip for it when none is drawn.
    const waiting = showProgress ? await bus.length() : null;
    log.debug(`taking ids from ${config.busKey}`);
    const total = waiting === null ? null : max === undefined ? waiting : Math.min(max, waiting);
    const progress = createProgress({ label: 'process', unit: 'rows', total, stream: io.stderr, enabled: showProgress });
    let result;
    try {
      result = await processQueue(db, bus, {
        ...config,
        max,
        waitMs: waitSeconds * 1000,
        signal: runtime.signal,
        log,
        onBatch: (c) => progress.advance(c.processed + c.alreadyDone + c.retried + c.failed + c.ignored + c.invalidMessages),
      });
    } finally {
      progress.stop();
    }
    const lines = [
      `processed ${plural(result.processed, 'learner')}; ${result.alreadyDone} already done; ${result.retried} to retry; ${result.failed} failed`,
    ];
    if (result.ignored + result.invalidMessages > 0) {
      lines.push(`ignored ${plural(result.ignored, 'message')} for rows not dispatched (duplicates or done) and ${result.invalidMessages} invalid messages`);
    }
    if (result.stoppedBy === 'signal') lines.push(`stopped on request; ${plural(result.released, 'row')} returned to the queue`);
    return { result: { ...result }, human: lines.join('\n') };
  },
};
