// Connections held open by clients that never finish what they started: every phase of a
// connection has a bound, the number of connections has a cap, and none of it shortens the idle
// time the API server's connection pool relies on. Real sockets; the timeouts are scaled down, with
// the same order between them as the defaults, so that a test takes seconds instead of minutes.
import { Agent, request } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from '../../../src/server/https-server.ts';
import { eventually } from '../../support/eventually.ts';
import { send } from '../../support/http.ts';
import { closedWithin, hostileServer, received, seriesOf, tcpClient, tlsClient, type Hostile } from './hostile-harness.ts';

const SCALED: ConnectionLimits = {
  handshakeTimeoutMs: 300,
  headersTimeoutMs: 300,
  requestTimeoutMs: 500,
  keepAliveTimeoutMs: 4_000,
  socketIdleTimeoutMs: 1_000,
  timeoutCheckIntervalMs: 100,
  maxConnections: 64,
};
/** How late a timeout may fire on a busy two-core machine, on top of its check interval. */
const SLACK_MS = 1_500;

let h: Hostile | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** GET /healthz over `agent`, resolving with the status and the socket it went over. */
function healthz(port: number, ca: string, agent: Agent): Promise<{ status: number; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca, servername: 'localhost', agent }, (res) => {
      // The agent takes the socket back once the answer has been read.
      const socket = res.socket;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the default connection limits', () => {
  it('outlast the API server pool idle time (90 s) and bound every other phase within the webhook timeout', () => {
    const d = DEFAULT_CONNECTION_LIMITS;
    expect(d.keepAliveTimeoutMs).toBeGreaterThan(90_000);
    for (const phase of [d.handshakeTimeoutMs, d.headersTimeoutMs, d.requestTimeoutMs]) {
      expect(phase).toBeGreaterThan(0);
      expect(phase).toBeLessThanOrEqual(15_000);
    }
    expect(d.requestTimeoutMs).toBeGreaterThanOrEqual(d.headersTimeoutMs);
    // Above the longest admission (the webhook's timeoutSeconds is at most 30 s).
    expect(d.socketIdleTimeoutMs).toBeGreaterThanOrEqual(30_000);
    expect(d.timeoutCheckIntervalMs).toBeLessThanOrEqual(1_000);
    expect(d.maxConnections).toBeGreaterThan(0);
  });

  it('are what a server gets unless told otherwise', async () => {
    h = await hostileServer();
    const { server } = h;
    expect([server.keepAliveTimeout, server.headersTimeout, server.requestTimeout, server.timeout, server.maxConnections]).toEqual([
      DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs,
      DEFAULT_CONNECTION_LIMITS.headersTimeoutMs,
      DEFAULT_CONNECTION_LIMITS.requestTimeoutMs,
      DEFAULT_CONNECTION_LIMITS.socketIdleTimeoutMs,
      DEFAULT_CONNECTION_LIMITS.maxConnections,
    ]);
  });
});

describe('a client that stops part way', () => {
  it('is cut off within the request timeout when it stops sending mid-body', async () => {
    h = await hostileServer({ limits: SCALED });
    const socket = await tlsClient(h);
    const text = received(socket);
    socket.write('POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"apiVersion"');
    const ms = await closedWithin(socket, SCALED.requestTimeoutMs + SCALED.timeoutCheckIntervalMs + SLACK_MS);
    expect(ms).toBeGreaterThanOrEqual(SCALED.requestTimeoutMs - SCALED.timeoutCheckIntervalMs);
    expect(text()).toMatch(/^HTTP\/1\.1 408 /);
    // Its body bytes were given back: nothing is left in flight.
    await eventually('in-flight bytes back to 0', async () => /^pullgate_admission_in_flight_bytes 0$/m.test(await h!.scrape()), 5_000);
    expect(await h.scrape()).toMatch(/^pullgate_rejected_requests_total\{code="BODY_READ_FAILED"\} 1$/m);
  });

  it('is cut off within the request timeout when it trickles the body a byte at a time', async () => {
    h = await hostileServer({ limits: SCALED });
    const socket = await tlsClient(h);
    socket.write('POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n');
    // Activity on the socket must not extend the bound: a byte every 50 ms, well inside every idle timeout.
    const trickle = setInterval(() => socket.writable && socket.write('x'), 50);
    try {
      const ms = await closedWithin(socket, SCALED.requestTimeoutMs + SCALED.timeoutCheckIntervalMs + SLACK_MS);
      expect(ms).toBeGreaterThanOrEqual(SCALED.requestTimeoutMs - SCALED.timeoutCheckIntervalMs);
    } finally {
      clearInterval(trickle);
    }
  });

  it('is closed when it stops in the middle of its headers', async () => {
    h = await hostileServer({ limits: SCALED });
    const socket = await tlsClient(h);
    socket.write('POST /mutate HTTP/1.1\r\nhost: localhost\r\n');
    await closedWithin(socket, SCALED.headersTimeoutMs + SCALED.timeoutCheckIntervalMs + SLACK_MS);
  });

  it('is closed when it completes the TLS handshake and never sends a request', async () => {
    h = await hostileServer({ limits: SCALED });
    const socket = await tlsClient(h);
    const ms = await closedWithin(socket, SCALED.headersTimeoutMs + SCALED.timeoutCheckIntervalMs + SLACK_MS);
    expect(ms).toBeGreaterThanOrEqual(SCALED.headersTimeoutMs - SCALED.timeoutCheckIntervalMs);
  });

  it('is closed when it connects and never completes the TLS handshake', async () => {
    h = await hostileServer({ limits: SCALED });
    const silent = await tcpClient(h);
    const partial = await tcpClient(h);
    // The first bytes of a TLS record header, then nothing.
    partial.write(Buffer.from([0x16, 0x03, 0x01]));
    for (const socket of [silent, partial]) {
      const ms = await closedWithin(socket, SCALED.handshakeTimeoutMs + SLACK_MS);
      expect(ms).toBeLessThanOrEqual(SCALED.handshakeTimeoutMs + SLACK_MS);
    }
    expect(h.logs.records().some((r) => r.msg === 'TLS handshake failed')).toBe(true);
  });

  it('is closed when nothing moves on it while its request is handled (an admission that never ends)', async () => {
    // The same inactivity bound covers a client that stops reading its answer.
    h = await hostileServer({ limits: SCALED, admission: { serves: () => new Promise<boolean>(() => {}) } });
    const socket = await tlsClient(h);
    const body = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","resource":{"group":"","version":"v1","resource":"pods"},"namespace":"my-app","object":{"spec":{"containers":[]}}}}';
    socket.write(`POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    const ms = await closedWithin(socket, SCALED.socketIdleTimeoutMs + SLACK_MS);
    expect(ms).toBeGreaterThanOrEqual(SCALED.socketIdleTimeoutMs - 100);
  });
});

describe('a kept-alive connection', () => {
  it('survives idle longer than every other timeout, as the API server pool keeps it, and closes after the keep-alive', { timeout: 30_000 }, async () => {
    h = await hostileServer({ limits: SCALED });
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: h.ca });
    try {
      const first = await healthz(h.port, h.ca, agent);
      // The scaled counterpart of 90 s idle under a 120 s keep-alive: past the header, request,
      // handshake and socket idle timeouts, short of the keep-alive. A wait for time to pass is
      // the point of this test.
      const idleMs = (SCALED.keepAliveTimeoutMs * 90) / 120;
      expect(idleMs).toBeGreaterThan(Math.max(SCALED.headersTimeoutMs, SCALED.requestTimeoutMs, SCALED.handshakeTimeoutMs, SCALED.socketIdleTimeoutMs) + SCALED.timeoutCheckIntervalMs);
      await new Promise((r) => setTimeout(r, idleMs));
      const second = await healthz(h.port, h.ca, agent);
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(second.socket).toBe(first.socket);
      // And the keep-alive itself still ends it.
      const socket = second.socket as import('node:net').Socket;
      const ms = await closedWithin(socket, SCALED.keepAliveTimeoutMs + SLACK_MS + 1_000);
      expect(ms).toBeGreaterThanOrEqual(SCALED.keepAliveTimeoutMs - idleMs - SCALED.timeoutCheckIntervalMs);
    } finally {
      agent.destroy();
    }
  });
});

describe('the connection cap', () => {
  it('closes connections past it on arrival, counts them, and keeps serving the open ones', async () => {
    h = await hostileServer({ limits: { ...SCALED, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, maxConnections: 2 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 2, ca: h.ca });
    try {
      // Two connections held by the pool: both requests in flight at once need both sockets.
      const pooled = await Promise.all([healthz(h.port, h.ca, agent), healthz(h.port, h.ca, agent)]);
      expect(pooled.map((p) => p.status)).toEqual([200, 200]);
      expect(new Set(pooled.map((p) => p.socket)).size).toBe(2);

      const third = await tcpClient(h);
      await closedWithin(third, 5_000);
      await expect(tlsClient(h)).rejects.toThrow();

      const again = await Promise.all([healthz(h.port, h.ca, agent), healthz(h.port, h.ca, agent)]);
      expect(again.map((p) => p.status)).toEqual([200, 200]);
      expect(new Set([...pooled, ...again].map((p) => p.socket)).size).toBe(2);
      const page = await h.scrape();
      expect(page).toMatch(/^pullgate_connections_dropped_total 2$/m);
      expect(page).toMatch(/^pullgate_open_connections 2$/m);
      expect(seriesOf(page).length).toBeGreaterThan(0);
    } finally {
      agent.destroy();
    }
    // Once the pool lets go, new connections are served again.
    await eventually('the cap frees up', async () => (await send(h!.port, { path: '/healthz', ca: h!.ca }).catch(() => ({ status: 0 }))).status === 200, 10_000);
  });
});
