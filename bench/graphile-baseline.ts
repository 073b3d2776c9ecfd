/**
 * The baseline the queue machinery is compared with: graphile-worker, a well-tuned
 * PostgreSQL job queue, running no-op jobs in its fastest configuration (a local queue of
 * 500, concurrency 24, batched completion) against the same database server.
 */
import { performance } from 'node:perf_hooks';
import { Logger } from '@graphile/logger';
import { makeWorkerUtils, run } from 'graphile-worker';

// Per-job INFO lines would cost the baseline more than its jobs do.
const quiet = new Logger(() => () => undefined);

const schema = 'mtc_bench_graphile';

export async function runGraphileWorkerBaseline(connectionString: string, jobs: number): Promise<{ ms: number; rate: number }> {
  const utils = await makeWorkerUtils({ connectionString, schema, logger: quiet });
  try {
    await utils.withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    await utils.migrate();
    for (let i = 0; i < jobs; i += 10_000) {
      await utils.addJobs(Array.from({ length: Math.min(10_000, jobs - i) }, () => ({ identifier: 'noop', payload: {} })));
    }
    await utils.withPgClient((client) => client.query('ANALYZE'));
  } finally {
    await utils.release();
  }

  let done = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const t0 = performance.now();
  const runner = await run({
    connectionString,
    schema,
    concurrency: 24,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quiet,
    taskList: {
      noop: async () => {
        if (++done === jobs) finish();
      },
    },
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
  await finished;
  // Stopping flushes the batched completions: the jobs are not done until then.
  await runner.stop();
  const ms = performance.now() - t0;

  const cleanup = await makeWorkerUtils({ connectionString, schema, logger: quiet });
  try {
    const { rows } = await cleanup.withPgClient((client) => client.query(`SELECT count(*)::int AS n FROM ${schema}._private_jobs`));
    if (rows[0].n !== 0) throw new Error(`graphile-worker left ${rows[0].n} jobs`);
    await cleanup.withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  } finally {
    await cleanup.release();
  }
  return { ms, rate: (jobs / ms) * 1000 };
}
