import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ImageLocation } from '../admission/pod-images.ts';

/**
 * Prometheus metrics. Labels are operations, decisions, locations, results and error codes, each
 * from a fixed set (see the label functions below): never names, credentials or anything a request
 * can choose, so no request can add a series.
 */
export interface Metrics {
  registry: Registry;
  admissions: Counter<'operation' | 'decision'>;
  admissionSeconds: Histogram<'operation'>;
  reviewBytes: Histogram;
  imagesRewritten: Counter<'location'>;
  warnings: Counter;
  pullSecretEnsures: Counter<'result'>;
  reconciles: Counter<'result'>;
  apiCallsInFlight: Gauge;
  leader: Gauge;
  rejectedRequests: Counter<'code'>;
  connectionsDropped: Counter;
  /** Read when scraped, so that requests and connections only update plain numbers. */
  scraped: ScrapedValues;
}

export interface ScrapedValues {
  inFlightBytes?: () => number;
  openConnections?: () => number | Promise<number>;
}

/** The label of every value a request can put where a fixed set is expected. */
export const OTHER = 'other';

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
/** Pod subresources a webhook can be registered for; pullgate's own is ephemeralcontainers. */
const SUBRESOURCES = ['ephemeralcontainers', 'status', 'binding', 'eviction', 'resize', 'attach', 'exec', 'portforward', 'proxy'] as const;
const LOCATIONS: readonly ImageLocation[] = ['containers', 'initContainers', 'ephemeralContainers', 'volumes'];

// Built once: looking a label up costs two map reads and allocates nothing.
const OPERATION_LABELS = new Map<string, Map<string, string>>(
  OPERATIONS.map((op) => [op, new Map<string, string>([['', op], ...SUBRESOURCES.map((sub): [string, string] => [sub, `${op}/${sub}`])])]),
);

/** `CREATE`, `UPDATE/ephemeralcontainers`, …; `other` for an operation or subresource outside the fixed sets. */
export function operationLabel(operation: string, subResource: string | undefined): string {
  return OPERATION_LABELS.get(operation)?.get(subResource ?? '') ?? OTHER;
}

/** The location part of an original-images key (`containers/web` → `containers`). */
export function locationLabel(key: string): string {
  const slash = key.indexOf('/');
  const location = slash < 0 ? key : key.slice(0, slash);
  return (LOCATIONS as readonly string[]).includes(location) ? location : OTHER;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Review sizes: typical Pods are a few KiB; the API server's own request limit is 3 MiB. */
const REVIEW_BYTES_BUCKETS = [KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 2 * MiB, 3 * MiB, 4 * MiB, 6 * MiB, 8 * MiB, 16 * MiB, 32 * MiB];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'pullgate_' });
  const scraped: ScrapedValues = {};
  new Gauge({
    name: 'pullgate_admission_in_flight_bytes',
    help: 'Body bytes of the admission requests being handled (bounded; past the bound a request is refused with 429)',
    registers: [registry],
    collect() {
      this.set(scraped.inFlightBytes?.() ?? 0);
    },
  });
  new Gauge({
    name: 'pullgate_open_connections',
    help: 'Connections open to the HTTPS port (bounded; past the bound new ones are closed at once)',
    registers: [registry],
    async collect() {
      this.set((await scraped.openConnections?.()) ?? 0);
    },
  });
  return {
    registry,
    scraped,
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
    reviewBytes: new Histogram({
      name: 'pullgate_admission_review_bytes',
      help: 'Size of the AdmissionReview bodies received (refused ones by their declared length), in bytes',
      buckets: REVIEW_BYTES_BUCKETS,
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
      help: 'Requests refused before admission (malformed, oversized, wrong content type, too many bytes in progress), by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    connectionsDropped: new Counter({
      name: 'pullgate_connections_dropped_total',
      help: 'Connections closed on arrival because the HTTPS port had its maximum open',
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
