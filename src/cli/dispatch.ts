import type { CommandSpec } from './command.js';
import { integerOption, plural } from './options.js';

interface DispatchOptions {
  batches?: string;
  maxBus?: string;
}

export const dispatchCommand: CommandSpec<DispatchOptions> = {
  name: 'dispatch',
  summary: 'recover rows whose lease expired, then claim a batch of queued rows and publish their ids on the bus',
  description:
    'First returns rows left dispatched or processing for longer than --lease-seconds to the queue ' +
    '(a crashed worker, a lost bus message). Then claims up to --batch-size due rows, highest priority ' +
    'and oldest first, in one atomic statement, and pushes their ids onto the Redis list --bus-key. ' +
    'Safe to run from many places at once: no row is claimed twice.',
  settings: ['batchSize', 'leaseSeconds', 'maxAttempts', 'busKey', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .option('--batches <n>', 'claim up to this many batches in this run (stops early when the queue runs dry)', '1')
      .option('--max-bus <n>', 'claim nothing more while the bus holds this many ids (default: 10 batches)');
  },
  async run({ runtime, config, log }, opts) {
    const batches = integerOption(opts.batches, '--batches', 1, 100_000, 1);
    const maxBusLength = integerOption(opts.maxBus, '--max-bus', 1, 10_000_000, config.batchSize * 10);
    const [{ RescopeBus }, { dispatch }] = await Promise.all([import('../rescope/bus.js'), import('../rescope/dispatch.js')]);
    const [db, redis] = await runtime.both();
    const bus = new RescopeBus(redis.client, config.busKey);
    const result = await dispatch(db, bus, { ...config, batches, maxBusLength, log, signal: runtime.signal });
    const lines = [`dispatched ${plural(result.dispatched, 'row')} to ${config.busKey}`];
    if (result.recovered > 0) lines.unshift(`recovered ${plural(result.recovered, 'row')} whose lease of ${config.leaseSeconds} s expired`);
    if (result.busFull) lines.push(`stopped early: the bus already holds ${maxBusLength} ids or more; the rest stays queued for the next run`);
    if (result.failed > 0) lines.push(`${plural(result.failed, 'row')} lost while processing had no attempts left and are now failed (see status)`);
    return { result: { ...result }, human: lines.join('\n') };
  },
};
