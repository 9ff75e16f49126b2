// A fixed-rate AdmissionReview load against pullgate processes, as the API server sends it: over a
// keep-alive connection pool per process, trusting only the given CA. Some requests open a fresh
// connection, so a renewed serving certificate is verified (and its serial recorded) as soon as it
// is served. A process that refuses the connection (it stopped listening) gets no request; the
// request goes to another process, as the Service would route it. A process withdrawn from the
// endpoints (as Kubernetes does before it signals a terminating Pod) gets no new connection, only
// requests on pooled connections it already has, as kube-proxy's connection tracking keeps them.
// A request on a pooled connection that the process closed as the request went out (reset
// before any answer: the keep-alive race of HTTP/1.1) is sent again on a fresh connection, as the
// API server's webhook client retries a reset connection and as Node documents for
// `request.reusedSocket`; such retries are counted. Every other error, and every answer that is not
// an allowed AdmissionResponse for that uid, is a failure.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface LoadTarget {
  name: string;
  port: number;
}

export interface LoadStats {
  /** Answered correctly, by target. */
  answered: Map<string, number>;
  /** What went wrong, one line per failed request. */
  failures: string[];
  /** Requests answered by another target because theirs refused the connection (or had before). */
  moved: number;
  /** Serial numbers of the serving certificates seen on fresh connections, by target. */
  serials: Map<string, Set<string>>;
  /** Answers on pooled connections that closed them (Connection: close: a process draining), by target. */
  closing: Map<string, number>;
  /** Requests sent again after their pooled connection was reset before any answer. */
  retried: number;
}

export interface AdmissionLoad {
  stats: LoadStats;
  /** Total answered so far. */
  total(): number;
  /** No new connections to this target from now on; its pooled ones stay in use. */
  withdraw(name: string): void;
  /** Stops sending and resolves once every request in flight has settled. */
  stop(): Promise<LoadStats>;
}

export function startAdmissionLoad(options: {
  targets: LoadTarget[];
  ca: string;
  ratePerSecond: number;
  /** An AdmissionReview for this uid. */
  review(uid: string): unknown;
  /** Every n-th request opens a fresh connection (default 2). */
  freshEvery?: number;
}): AdmissionLoad {
  const { targets, ca } = options;
  const freshEvery = options.freshEvery ?? 2;
  const agents = new Map(targets.map((t) => [t.name, new Agent({ keepAlive: true, maxSockets: 4, ca })]));
  const stats: LoadStats = {
    answered: new Map(targets.map((t) => [t.name, 0])),
    failures: [],
    moved: 0,
    serials: new Map(targets.map((t) => [t.name, new Set<string>()])),
    closing: new Map(targets.map((t) => [t.name, 0])),
    retried: 0,
  };
  const gone = new Set<string>();
  const withdrawn = new Set<string>();
  /** The target's pool has an idle connection to reuse. */
  const pooled = (name: string) => Object.values(agents.get(name)!.freeSockets).some((sockets) => (sockets?.length ?? 0) > 0);
  const inFlight = new Set<Promise<void>>();
  let sent = 0;

  const once = (target: LoadTarget, fresh: boolean): Promise<'ok' | 'refused' | 'reset'> =>
    new Promise((resolve) => {
      const uid = randomUUID();
      const body = JSON.stringify(options.review(uid));
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          method: 'POST',
          path: '/mutate',
          ca,
          agent: fresh ? false : agents.get(target.name)!,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 15_000,
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', (err) => fail(`response ${(err as NodeJS.ErrnoException).code ?? err.message}`));
          res.on('end', () => {
            if (!fresh && res.headers.connection === 'close') stats.closing.set(target.name, stats.closing.get(target.name)! + 1);
            let answer: { response?: { uid?: string; allowed?: boolean } } | undefined;
            try {
              answer = JSON.parse(Buffer.concat(parts).toString('utf8'));
            } catch {
              // Reported below.
            }
            if (res.statusCode !== 200 || answer?.response?.uid !== uid || answer.response.allowed !== true) return fail(`HTTP ${res.statusCode} ${Buffer.concat(parts).toString('utf8').slice(0, 200)}`);
            stats.answered.set(target.name, stats.answered.get(target.name)! + 1);
            resolve('ok');
          });
        },
      );
      const fail = (what: string) => {
        stats.failures.push(`${target.name} (${fresh ? 'fresh' : 'pooled'} connection): ${what}`);
        resolve('ok');
      };
      if (fresh) {
        req.on('socket', (socket) =>
          socket.once('secureConnect', () => {
            const serial = (socket as TLSSocket).getPeerCertificate().serialNumber;
            if (serial) stats.serials.get(target.name)!.add(serial);
          }),
        );
      }
      req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Refused: nothing was sent; the process no longer listens.
        if (err.code === 'ECONNREFUSED') return resolve('refused');
        // A pooled connection closed by the process as this request went out: no answer began.
        if (req.reusedSocket && err.code === 'ECONNRESET') return resolve('reset');
        fail(err.code ?? err.message);
      });
      req.end(body);
    });

  const fire = () => {
    const n = sent++;
    // Targets take turns; within each target's share, every freshEvery-th request is fresh.
    const fresh = Math.floor(n / targets.length) % freshEvery === 0;
    const work = (async () => {
      const preferred = targets[n % targets.length]!;
      const order = [preferred, ...targets.filter((t) => t !== preferred)].filter((t) => !gone.has(t.name) && (!withdrawn.has(t.name) || (!fresh && pooled(t.name))));
      for (const target of order) {
        let outcome = await once(target, fresh);
        if (outcome === 'reset') {
          stats.retried++;
          outcome = await once(target, true);
        }
        if (outcome === 'ok') {
          if (target !== preferred) stats.moved++;
          return;
        }
        gone.add(target.name);
      }
      stats.failures.push('no process accepted the connection');
    })();
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  const timer = setInterval(fire, 1000 / options.ratePerSecond);

  return {
    stats,
    total: () => [...stats.answered.values()].reduce((a, b) => a + b, 0),
    withdraw: (name) => void withdrawn.add(name),
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      for (const agent of agents.values()) agent.destroy();
      return stats;
    },
  };
}
