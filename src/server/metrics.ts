import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics. Labels are operations, decisions, locations and results: never names or credentials. */
export interface Metrics {
  registry: Registry;
  admissions: Counter<'operation' | 'decision'>;
  admissionSeconds: Histogram<'operation'>;
  imagesRewritten: Counter<'location'>;
  warnings: Counter;
  pullSecretEnsures: Counter<'result'>;
  reconciles: Counter<'result'>;
  apiCallsInFlight: Gauge;
  leader: Gauge;
  rejectedRequests: Counter<'code'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'pullgate_' });
  return {
    registry,
    admissions: new Counter({
      name: 'pullgate_admission_requests_total',
      help: 'Admission requests answered, by operation and decision',
      labelNames: ['operation', 'decision'],
      registers: [registry],
    }),
    admissionSeconds: new Histogram({
      name: 'pullgate_admission_duration_seconds',
      help: 'Time to answer an admission request, pull secret creation included',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    imagesRewritten: new Counter({
      name: 'pullgate_images_rewritten_total',
      help: 'Image references rewritten to the proxy, by location in the Pod spec',
      labelNames: ['location'],
      registers: [registry],
    }),
    warnings: new Counter({ name: 'pullgate_admission_warnings_total', help: 'Warnings returned to clients', registers: [registry] }),
    pullSecretEnsures: new Counter({
      name: 'pullgate_pull_secret_ensure_total',
      help: 'Pull secret checks made for admitted Pods, by result (unchanged: present and current, created, left: present but stale and left to the reconciler, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconciles: new Counter({
      name: 'pullgate_pull_secret_reconcile_total',
      help: 'Namespaces looked at by the reconciler, by result (unchanged, created, updated, replaced, error, no-credential)',
      labelNames: ['result'],
      registers: [registry],
    }),
    apiCallsInFlight: new Gauge({ name: 'pullgate_api_calls_in_flight', help: 'Kubernetes API calls waiting for an answer (bounded; past the bound a call fails at once)', registers: [registry] }),
    leader: new Gauge({ name: 'pullgate_leader', help: '1 while this replica holds the lease and reconciles every namespace, else 0', registers: [registry] }),
    rejectedRequests: new Counter({
      name: 'pullgate_rejected_requests_total',
      help: 'Requests refused before admission (malformed, oversized, wrong content type), by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

/** Plain HTTP, its own port: scrapers need no TLS trust, and the webhook port serves the API server only. */
export function createMetricsServer(metrics: Metrics): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?', 1)[0] === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
}
