import { createServer, type Server } from 'node:https';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../logger.ts';
import type { Metrics } from './metrics.ts';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * Bounds on every phase of a connection, so that no client holds a socket (and its memory) for
 * longer than the phase it is in needs. The API server connects, sends each review whole, and keeps
 * connections pooled between reviews; nothing here is tighter than that.
 */
export interface ConnectionLimits {
  /** From TCP accept to a completed TLS handshake. */
  handshakeTimeoutMs: number;
  /** From a completed handshake, or from a request's first byte, to its complete headers: also the idle time allowed before the first request. */
  headersTimeoutMs: number;
  /** From a request's first byte to its complete body: a client trickling or stalling mid-body is cut off. At least headersTimeoutMs. */
  requestTimeoutMs: number;
  /** Idle time between requests on a kept-alive connection. */
  keepAliveTimeoutMs: number;
  /** No byte either way while a request is handled or its answer written (a client that stops reading). Above the longest admission. */
  socketIdleTimeoutMs: number;
  /** How often the header and request timeouts are checked: they fire up to this much late. */
  timeoutCheckIntervalMs: number;
  /** Connections open at once, handshakes in progress included; past it new ones are closed on arrival. */
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  // The API server writes a review in one go; 15 s is ample even for one at the size limit.
  requestTimeoutMs: 15_000,
  // The API server keeps webhook connections pooled and idle for up to 90 s. Node's default 5 s
  // keep-alive would close them first, and the API server would see EOF/reset on reuse. (Node
  // checks the header and request timeouts only while a request is arriving, so they do not
  // shorten this idle time; the keep-alive test shows it with every timeout scaled down.)
  keepAliveTimeoutMs: 120_000,
  // Admission has at most timeoutSeconds (10 s in the shipped webhook, 30 s at most) to answer.
  socketIdleTimeoutMs: 30_000,
  timeoutCheckIntervalMs: 1_000,
  // Each API server keeps a pool of connections; a few hundred cover several API servers under
  // load and the kubelet's probes. An open idle TLS connection costs about 45 KiB.
  maxConnections: 512,
});

export interface HttpsServerOptions {
  /** The answer to each request closes its connection while this returns true (a graceful stop). */
  draining?: () => boolean;
  limits?: Partial<ConnectionLimits>;
  metrics?: Pick<Metrics, 'connectionsDropped' | 'scraped'>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function isMutatePath(url: string | undefined): boolean {
  return url === '/mutate' || (url !== undefined && url.startsWith('/mutate?'));
}

/**
 * One HTTPS server: `POST /mutate` goes straight to the admission handler, everything else to
 * express. Handler rejections are caught here so no request can crash the process.
 */
export function createHttpsServer(tls: TlsMaterial, mutate: Handler, ops: Express, logger: Logger, options: HttpsServerOptions = {}): Server {
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) throw new RangeError('requestTimeoutMs must be at least headersTimeoutMs');
  const draining = options.draining ?? (() => false);
  // While draining, every answer closes its connection: the API server's pooled keep-alive
  // connections would otherwise hold the process open until it is killed mid-request. Decided
  // when the answer is written, so requests already in flight when the stop began are covered.
  // One function for every response: the hot path allocates no closure for it.
  const writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (draining()) this.shouldKeepAlive = false;
    return ServerResponse.prototype.writeHead.apply(this, args);
  } as ServerResponse['writeHead'];

  const server = createServer(
    { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: limits.handshakeTimeoutMs, connectionsCheckingInterval: limits.timeoutCheckIntervalMs },
    (req, res) => {
      res.writeHead = writeHead;
      if (req.method === 'POST' && isMutatePath(req.url)) {
        mutate(req, res).catch((err: Error) => {
          logger.error({ err: err.message }, 'mutate handler failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'INTERNAL', message: 'internal error' }));
        });
        return;
      }
      ops(req, res);
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.timeout = limits.socketIdleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  const metrics = options.metrics;
  if (metrics) {
    server.on('drop', () => metrics.connectionsDropped.inc());
    metrics.scraped.openConnections = () => new Promise((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)));
  }
  return server;
}
