// The HTTPS server as startPullgate assembles it (admission handler, ops app, metrics and their
// port), with limits a test chooses and a fake admission context: what the hostile-*.test.ts files
// attack. Plus raw TLS and TCP clients that do what no well-behaved client does.
import type { Server } from 'node:https';
import type { Server as HttpServer } from 'node:http';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AdmissionContext } from '../../../src/admission/admit.ts';
import { createHttpsServer, type ConnectionLimits } from '../../../src/server/https-server.ts';
import { createMetrics, createMetricsServer, type Metrics } from '../../../src/server/metrics.ts';
import { createMutateHandler } from '../../../src/server/mutate-handler.ts';
import { createOpsApp } from '../../../src/server/ops-app.ts';
import { send } from '../../support/http.ts';
import { POLICY } from '../admission/policy-fixture.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { generateTls, type TlsFixture } from '../helpers/tls.ts';

export interface HostileOptions {
  bodyLimit?: number;
  maxInFlightBytes?: number;
  limits?: Partial<ConnectionLimits>;
  admission?: Partial<AdmissionContext>;
}

export interface Hostile {
  server: Server;
  port: number;
  ca: string;
  metrics: Metrics;
  logs: CapturedLogs;
  /** The text of GET /metrics on the metrics port. */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

let tls: TlsFixture | undefined;

function fixture(): TlsFixture {
  if (!tls) {
    const dir = tempDir();
    try {
      tls = generateTls(dir.path);
    } finally {
      dir.remove();
    }
  }
  return tls;
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function stop(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function hostileServer(options: HostileOptions = {}): Promise<Hostile> {
  const { certPem, keyPem, caPem } = fixture();
  const logs = captureLogs('debug');
  const metrics = createMetrics({ defaultMetrics: false });
  const admission: AdmissionContext = {
    policy: () => POLICY,
    standingWarnings: () => [],
    serves: () => true,
    ensurePullSecret: async () => {},
    ...options.admission,
  };
  const handler = createMutateHandler({ admission, logger: logs.logger, metrics, bodyLimit: options.bodyLimit ?? 1024 * 1024, maxInFlightBytes: options.maxInFlightBytes });
  const server = createHttpsServer({ cert: certPem, key: keyPem }, handler, createOpsApp({ ready: () => true }, logs.logger), logs.logger, {
    metrics,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const metricsServer = createMetricsServer(metrics);
  const port = await listen(server);
  const metricsPort = await listen(metricsServer);
  return {
    server,
    port,
    ca: caPem,
    metrics,
    logs,
    scrape: async () => (await send(metricsPort, { path: '/metrics' })).text,
    close: async () => void (await Promise.all([stop(server), stop(metricsServer)])),
  };
}

/** A TLS connection to the server, resolved once the handshake is done. */
export function tlsClient(h: Hostile): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: h.port, ca: h.ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A plain TCP connection to the server's TLS port, resolved once connected. */
export function tcpClient(h: Hostile): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(h.port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the milliseconds from now until `socket` closes, or rejects past `deadlineMs`. */
export function closedWithin(socket: Socket, deadlineMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${deadlineMs} ms`)), deadlineMs);
    socket.on('error', () => {});
    // Reading is what notices the server's close; whatever it sent first is dropped unless
    // received() keeps it.
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

/** Everything the server writes to `socket` until it closes, as text. */
export function received(socket: Socket): () => string {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  return () => Buffer.concat(parts).toString('utf8');
}

/** The series of a Prometheus text page: its sample lines. */
export function seriesOf(page: string): string[] {
  return page.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}
