import test from 'ava';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestMetrics, latencyBuckets } from '../src/http/metrics.js';

/** The same observations through prom-client's own Counter and Histogram, as serve recorded them before. */
function promClientText(observations: Array<[string, string, number, number]>): Promise<string> {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'mtc_batch_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'mtc_batch_http_request_duration_seconds',
    help: 'Time from the request arriving to its answer being sent, by method, route and status',
    labelNames,
    buckets: [...latencyBuckets],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of observations) {
    const labels = { method, route, status: String(status) };
    requests.inc(labels);
    latency.observe(labels, seconds);
  }
  return registry.metrics();
}

test('request metrics are written exactly as prom-client writes the same counter and histogram', async (t) => {
  const route = '/api/rescope/:version/scope/skipped';
  const observations: Array<[string, string, number, number]> = [
    ['GET', route, 200, 0.0042],
    ['GET', route, 200, 0.001],
    ['GET', route, 200, 0.0010001],
    ['GET', route, 404, 0.3],
    ['POST', route, 200, 12.5],
    ['GET', 'unmatched', 404, 0],
    ['GET', route, 200, 10],
    ['GET', 'a "quoted" \\ route\nwith a newline', 500, 0.07],
    ['GET', route, 401, 0.0001],
  ];
  for (let i = 0; i < 200; i++) observations.push(['GET', route, 200, (i * 0.37) % 3]);
  const ours = new RequestMetrics();
  for (const [method, routeName, status, seconds] of observations) ours.observe(method, routeName, status, seconds);
  t.is(ours.render(), await promClientText(observations));
});

test('with no requests yet, both metrics are declared without series, as prom-client writes them', async (t) => {
  t.is(new RequestMetrics().render(), await promClientText([]));
});
