/**
 * `/metrics` in Prometheus text format: requests and their latency by route and status,
 * the process's own figures, and the queue counts `status` reports. The queue counts are
 * read from the database at most once per `queueCountsMaxAgeMs` (10 s), however often and
 * by however many scrapers: a scrape must not become database load.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { type QueueCounts, queueCounts } from '../rescope/queue-table.js';
import { within } from './deadline.js';

export interface MetricsOptions {
  queueCountsMaxAgeMs?: number;
  /** How long a scrape waits for the queue counts (default 2 s). */
  queueCountsWaitMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export interface Metrics {
  readonly contentType: string;
  /** Records one answered request; `route` is the route's pattern, or "unmatched". */
  observe(method: string, route: string, status: number, seconds: number): void;
  render(): Promise<string>;
}

const queueStates = ['queued', 'dispatched', 'processing', 'failed'] as const;

export function createMetrics(db: Database, log: Logger, options: MetricsOptions = {}): Metrics {
  const maxAgeMs = options.queueCountsMaxAgeMs ?? 10_000;
  const waitMs = options.queueCountsWaitMs ?? 2_000;
  const now = options.now ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new RequestMetrics();
  let cached: { at: number; counts: Promise<QueueCounts | null> } | undefined;
  // A scrape waits for the counts at most `waitMs`: a database that hangs costs the scrape
  // its queue figures (absent, with mtc_batch_queue_counts_up 0), never the rest.
  const readCounts = (): Promise<QueueCounts | null> => {
    if (cached && now() - cached.at < maxAgeMs) return cached.counts;
    const read = queueCounts(db).catch((err: unknown) => {
      log.warn('metrics: reading the queue counts failed', { error: errorMessage(err) });
      return null;
    });
    const counts = within(read, waitMs, () => {
      log.warn(`metrics: the queue counts took longer than ${waitMs} ms; left out of this scrape`);
      return null;
    });
    cached = { at: now(), counts };
    return counts;
  };
  const queueHelp = {
    rows: `Rows of the rescope queue by state, as status reports them (read at most every ${maxAgeMs / 1000} s)`,
    oldest: 'Age of the oldest due queued row, as status reports it; 0 when none is queued',
    up: 'Whether the last read of the queue counts succeeded (1) or failed or was late (0)',
  };

  return {
    contentType: registry.contentType,
    observe: (method, route, status, seconds) => requests.observe(method, route, status, seconds),
    render: async () => {
      const [own, counts] = await Promise.all([registry.metrics(), readCounts()]);
      return `${own}\n${requests.render()}${queueMetricsText(counts, queueHelp)}`;
    },
  };
}

/** Upper bounds of the latency buckets, seconds. */
export const latencyBuckets: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const requestsName = 'mtc_batch_http_requests_total';
const requestsHelp = 'HTTP requests answered, by method, route and status';
const latencyName = 'mtc_batch_http_request_duration_seconds';
const latencyHelp = 'Time from the request arriving to its answer being sent, by method, route and status';

interface Series {
  /** `method="GET",route="…",status="200"`, escaped. */
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  buckets: Float64Array;
}

/**
 * The request counter and latency histogram, kept here rather than in prom-client's
 * Counter and Histogram: those validate and hash the label set on every observation
 * (about 10 us a request in a profile of serve under load), where this finds the series
 * with three map lookups and adds to plain numbers. Written in the text prom-client
 * writes for the same metrics (test/metrics.test.ts compares the two).
 */
export class RequestMetrics {
  private readonly byRoute = new Map<string, Map<number, Map<string, Series>>>();
  private readonly all: Series[] = [];

  observe(method: string, route: string, status: number, seconds: number): void {
    let byStatus = this.byRoute.get(route);
    if (byStatus === undefined) this.byRoute.set(route, (byStatus = new Map()));
    let byMethod = byStatus.get(status);
    if (byMethod === undefined) byStatus.set(status, (byMethod = new Map()));
    let series = byMethod.get(method);
    if (series === undefined) {
      series = { labels: `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`, count: 0, sum: 0, buckets: new Float64Array(latencyBuckets.length + 1) };
      byMethod.set(method, series);
      this.all.push(series);
    }
    let bucket = 0;
    while (bucket < latencyBuckets.length && seconds > latencyBuckets[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.count++;
    series.sum += seconds;
  }

  /** Both metrics in Prometheus text format, each series in the order first seen. */
  render(): string {
    const counter = [`# HELP ${requestsName} ${requestsHelp}`, `# TYPE ${requestsName} counter`];
    const histogram = [`# HELP ${latencyName} ${latencyHelp}`, `# TYPE ${latencyName} histogram`];
    for (const s of this.all) {
      counter.push(`${requestsName}{${s.labels}} ${s.count}`);
      let cumulative = 0;
      latencyBuckets.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        histogram.push(`${latencyName}_bucket{le="${bound}",${s.labels}} ${cumulative}`);
      });
      histogram.push(`${latencyName}_bucket{le="+Inf",${s.labels}} ${s.count}`, `${latencyName}_sum{${s.labels}} ${numberText(s.sum)}`, `${latencyName}_count{${s.labels}} ${s.count}`);
    }
    return `${counter.join('\n')}\n\n${histogram.join('\n')}\n`;
  }
}

/** A label value in the text format: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return String(value);
}

/**
 * The queue gauges in the exposition format. When the counts could not be read, the
 * gauges have no sample (absent, so an alert on the age cannot read "0 s, all is well")
 * and mtc_batch_queue_counts_up is 0.
 */
export function queueMetricsText(counts: QueueCounts | null, help: { rows: string; oldest: string; up: string }): string {
  const gauge = (name: string, text: string, samples: string[]) => `# HELP ${name} ${text}\n# TYPE ${name} gauge\n${samples.map((line) => `${line}\n`).join('')}`;
  return (
    gauge('mtc_batch_queue_rows', help.rows, counts ? queueStates.map((state) => `mtc_batch_queue_rows{state="${state}"} ${counts[state]}`) : []) +
    gauge('mtc_batch_queue_oldest_queued_age_seconds', help.oldest, counts ? [`mtc_batch_queue_oldest_queued_age_seconds ${counts.oldestQueuedAgeSeconds ?? 0}`] : []) +
    gauge('mtc_batch_queue_counts_up', help.up, [`mtc_batch_queue_counts_up ${counts ? 1 : 0}`])
  );
}
