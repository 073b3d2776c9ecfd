/**
 * `/metrics` in Prometheus text format: requests and their latency by route and status,
 * the process's own figures, and the queue counts `status` reports. The queue counts are
 * read from the database at most once per `queueCountsMaxAgeMs` (10 s), however often and
 * by however many scrapers: a scrape must not become database load.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { type QueueCounts, queueCounts } from '../rescope/queue-table.js';

export interface MetricsOptions {
  queueCountsMaxAgeMs?: number;
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
  const now = options.now ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'mtc_batch_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'mtc_batch_http_request_duration_seconds',
    help: 'Time from the request arriving to its answer being sent, by method, route and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  let cached: { at: number; counts: Promise<QueueCounts | null> } | undefined;
  const readCounts = (): Promise<QueueCounts | null> => {
    if (cached && now() - cached.at < maxAgeMs) return cached.counts;
    const counts = queueCounts(db).catch((err: unknown) => {
      log.warn('metrics: reading the queue counts failed', { error: errorMessage(err) });
      return null;
    });
    cached = { at: now(), counts };
    return counts;
  };
  // A failed read leaves the rows out of the scrape (absent, not stale) and sets
  // mtc_batch_queue_counts_up to 0; the scrape still answers with the rest.
  new Gauge({
    name: 'mtc_batch_queue_rows',
    help: `Rows of the rescope queue by state, as status reports them (read at most every ${maxAgeMs / 1000} s)`,
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await readCounts();
      this.reset();
      if (counts) for (const state of queueStates) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: 'mtc_batch_queue_oldest_queued_age_seconds',
    help: 'Age of the oldest queued row, as status reports it; 0 when none is queued',
    registers: [registry],
    async collect() {
      this.set((await readCounts())?.oldestQueuedAgeSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'mtc_batch_queue_counts_up',
    help: 'Whether the last read of the queue counts succeeded (1) or failed (0)',
    registers: [registry],
    async collect() {
      this.set((await readCounts()) ? 1 : 0);
    },
  });

  // The series of each (method, route, status), looked up once: prom-client would hash
  // the label object on every request otherwise.
  const series = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  return {
    contentType: registry.contentType,
    observe(method, route, status, seconds) {
      const key = `${method} ${status} ${route}`;
      let s = series.get(key);
      if (!s) {
        const labels = { method, route, status: String(status) };
        s = { count: requests.labels(labels), time: latency.labels(labels) };
        series.set(key, s);
      }
      s.count.inc();
      s.time.observe(seconds);
    },
    render: () => registry.metrics(),
  };
}
