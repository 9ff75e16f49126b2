import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../logger.ts';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
}

// The API server keeps webhook connections pooled and idle for up to 90 s. Node's default 5 s
// keep-alive would close them first, and the API server would see EOF/reset on reuse.
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;
// Must exceed keepAliveTimeout, or Node may time out a reused socket between requests.
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 5_000;
// Admission has at most 30 s (timeoutSeconds); anything slower is a stuck client.
export const REQUEST_TIMEOUT_MS = 60_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * One HTTPS server: `POST /mutate` goes straight to the admission handler, everything else to
 * express. Handler rejections are caught here so no request can crash the process.
 * `draining` turns on connection closing for a graceful stop.
 */
export function createHttpsServer(tls: TlsMaterial, mutate: Handler, ops: Express, logger: Logger, draining: () => boolean = () => false): Server {
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    // While draining, every answer closes its connection: the API server's pooled keep-alive
    // connections would otherwise hold the process open until it is killed mid-request. Decided
    // when the answer is written, so requests already in flight when the stop began are covered.
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      if (draining()) this.shouldKeepAlive = false;
      return writeHead.apply(this, args);
    } as typeof writeHead;
    const path = req.url?.split('?', 1)[0];
    if (req.method === 'POST' && path === '/mutate') {
      mutate(req, res).catch((err: Error) => {
        logger.error({ err: err.message }, 'mutate handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'INTERNAL', message: 'internal error' }));
      });
      return;
    }
    ops(req, res);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  return server;
}
