/**
 * `GET /metrics` in the Prometheus text format: prom-client's default process metrics, plus a
 * request counter and a duration histogram labelled by method, route pattern (never the raw URL,
 * whose ids would make one series per resource) and status.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, type Registry } from 'prom-client';

/** Buckets around the API's latency budget (p99 <= 20 ms for purchases). */
const requestDurationBucketsSeconds = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The route label of requests that matched no route, so that URL scans add no series. */
export const unmatchedRouteLabel = '<unmatched>';

const labelNames = ['method', 'route', 'status'] as const;

interface HttpMetrics {
  readonly requests: Counter<(typeof labelNames)[number]>;
  readonly durationSeconds: Histogram<(typeof labelNames)[number]>;
}

/** The metrics in `registry`, created once: several apps (tests) may share a registry. */
function httpMetricsIn(registry: Registry): HttpMetrics {
  if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) {
    collectDefaultMetrics({ register: registry });
  }
  const requests =
    (registry.getSingleMetric('http_requests_total') as HttpMetrics['requests'] | undefined) ??
    new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames,
      registers: [registry],
    });
  const durationSeconds =
    (registry.getSingleMetric('http_request_duration_seconds') as
      HttpMetrics['durationSeconds'] | undefined) ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to response, by method, route pattern and status',
      labelNames,
      buckets: requestDurationBucketsSeconds,
      registers: [registry],
    });
  return { requests, durationSeconds };
}

export function installMetrics(app: FastifyInstance, registry: Registry): void {
  const metrics = httpMetricsIn(registry);
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? unmatchedRouteLabel,
      status: String(reply.statusCode),
    };
    metrics.requests.inc(labels);
    metrics.durationSeconds.observe(labels, reply.elapsedTime / 1000);
  });
  void app.register(async (scope) => {
    scope.get(
      '/metrics',
      { schema: { hide: true }, config: { auth: 'public' } },
      async (_request, reply) => {
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      },
    );
  });
}
