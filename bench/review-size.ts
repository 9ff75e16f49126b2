// Memory and event-loop cost of one large review: pullgate's HTTPS /mutate path in a child process
// of its own per measurement (so its peak RSS is that review's), fed reviews of 1 MiB, 3 MiB and the
// body limit, of an ordinary shape (one large argument, the way Pods grow) and of the costliest one
// within the limit (thousands of defaulted containers, each with an image to rewrite), while this
// process asks /healthz every 10 ms. Then reviews at once: three at the limit (the default in-flight
// bound takes one, the others are refused with 429) and two of 4.5 MiB, the largest ordinary UPDATE
// (both taken). Prints [figure] lines. `node bench/review-size.ts`;
// BENCH_NODE_ARGS="--max-old-space-size=128" runs the server with a heap limit like a container's.
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'node:https';
import type { AdmissionContext } from '../src/admission/admit.ts';
import { parseRegistryPrefix, type RegistryPrefix } from '../src/image/registry-prefix.ts';
import { createLogger } from '../src/logger.ts';
import { createHttpsServer } from '../src/server/https-server.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { createMutateHandler } from '../src/server/mutate-handler.ts';
import { createOpsApp } from '../src/server/ops-app.ts';
import { DEFAULT_BODY_LIMIT } from '../src/server/read-body.ts';
import { createCertificateAuthority, issueServingCert } from '../src/tls/certificates.ts';

const MiB = 2 ** 20;

interface Stats {
  maxRssMiB: number;
  rssMiB: number;
  heapUsedMiB: number;
  blockMs: number;
}

/** The server side: pullgate's handler as startPullgate wires it, with a steady-state admission context. */
async function serve(): Promise<void> {
  const prefixes = ['quay.io/acme'].map((e) => (parseRegistryPrefix(e) as { ok: true; prefix: RegistryPrefix }).prefix);
  const admission: AdmissionContext = {
    policy: () => ({ rewrite: { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: prefixes }, registryDomain: 'registry.example.com', pullSecretName: 'my-app-registry' }),
    standingWarnings: () => [],
    serves: () => true,
    ensurePullSecret: async () => {},
  };
  const { certPem, keyPem } = JSON.parse(process.env.BENCH_TLS!) as { certPem: string; keyPem: string };
  // Logs are written, as in production, to a sink that costs nothing here.
  const logger = createLogger({ level: 'info', destination: { write: () => {} } });
  const metrics = createMetrics();
  const server = createHttpsServer({ cert: certPem, key: keyPem }, createMutateHandler({ admission, logger, metrics, bodyLimit: DEFAULT_BODY_LIMIT }), createOpsApp({ ready: () => true }, logger), logger, { metrics });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.on('message', (m) => {
    if (m !== 'stats') return;
    const stats: Stats = {
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      rssMiB: process.memoryUsage().rss / MiB,
      heapUsedMiB: process.memoryUsage().heapUsed / MiB,
      blockMs: delay.max / 1e6,
    };
    delay.reset();
    process.send!(stats);
  });
}

function review(spec: unknown): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'my-app',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'my-app' }, spec },
      oldObject: null,
      dryRun: false,
    },
  };
}

/** A container as the API server sends it after defaulting. */
function defaulted(i: number) {
  return {
    name: `c${i}`,
    image: `quay.io/acme/app-${i}:1`,
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  };
}

const SHAPES: Record<string, (bytes: number) => string> = {
  'one large argument': (bytes) => {
    const base = JSON.stringify(review({ containers: [{ ...defaulted(0), args: [''] }] }));
    return JSON.stringify(review({ containers: [{ ...defaulted(0), args: ['x'.repeat(bytes - base.length)] }] }));
  },
  'defaulted containers with private images': (bytes) => {
    const each = JSON.stringify(defaulted(99999)).length + 1;
    return JSON.stringify(review({ containers: Array.from({ length: Math.floor(bytes / each) - 1 }, (_, i) => defaulted(i)) }));
  },
};

interface Child {
  port: number;
  stats(): Promise<Stats>;
  stop(): void;
}

async function startChild(tls: string): Promise<Child> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = fork(process.argv[1]!, ['serve'], { env: { ...process.env, BENCH_TLS: tls }, execArgv: [...process.execArgv, ...nodeArgs] });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { port } = await next<{ port: number }>();
  return {
    port,
    stats: () => {
      const answer = next<Stats>();
      child.send('stats');
      return answer;
    },
    stop: () => void child.kill(),
  };
}

function post(port: number, ca: string, path: string, body?: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', ca, servername: 'localhost', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `bodies` at once while asking /healthz every 10 ms; the slowest /healthz answer and the statuses. */
async function underProbe(child: Child, ca: string, bodies: string[]): Promise<{ statuses: number[]; ms: number; healthzMs: number }> {
  let done = false;
  let slowest = 0;
  const probe = (async () => {
    while (!done) {
      slowest = Math.max(slowest, (await post(child.port, ca, '/healthz')).ms);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = performance.now();
  const answers = await Promise.all(bodies.map((b) => post(child.port, ca, '/mutate', b)));
  const ms = performance.now() - started;
  done = true;
  await probe;
  return { statuses: answers.map((a) => a.status), ms, healthzMs: slowest };
}

async function main(): Promise<void> {
  const ca = createCertificateAuthority('bench-ca');
  const leaf = issueServingCert(ca, [], 'localhost');
  const tls = JSON.stringify({ certPem: leaf.certPem, keyPem: leaf.keyPem });
  const figure = (line: string) => console.log(`[figure] ${line}`);
  figure(`Node ${process.version}, server flags: ${process.env.BENCH_NODE_ARGS || 'none'}, body limit ${DEFAULT_BODY_LIMIT / MiB} MiB`);

  for (const [shape, make] of Object.entries(SHAPES)) {
    for (const size of [MiB, 3 * MiB, DEFAULT_BODY_LIMIT - 4096]) {
      const body = make(size);
      const child = await startChild(tls);
      try {
        const idle = await child.stats();
        const run = await underProbe(child, ca.certPem, [body]);
        const after = await child.stats();
        figure(
          `${shape}, ${(body.length / MiB).toFixed(2)} MiB: HTTP ${run.statuses[0]} in ${run.ms.toFixed(0)} ms; peak RSS ${after.maxRssMiB.toFixed(0)} MiB ` +
            `(+${(after.maxRssMiB - idle.rssMiB).toFixed(0)} over idle ${idle.rssMiB.toFixed(0)}), heap after ${after.heapUsedMiB.toFixed(0)} MiB; ` +
            `longest event-loop block ${after.blockMs.toFixed(0)} ms, slowest /healthz ${run.healthzMs.toFixed(0)} ms`,
        );
      } finally {
        child.stop();
      }
    }
  }

  const together: Array<[string, string, number]> = [
    ...Object.keys(SHAPES).map((shape): [string, string, number] => [shape, 'three', DEFAULT_BODY_LIMIT - 4096]),
    ['one large argument', 'two', 4.5 * MiB],
  ];
  for (const [shape, count, size] of together) {
    const body = SHAPES[shape]!(size);
    const child = await startChild(tls);
    try {
      const idle = await child.stats();
      const run = await underProbe(child, ca.certPem, Array.from({ length: count === 'three' ? 3 : 2 }, () => body));
      const after = await child.stats();
      figure(
        `${shape}, ${count} at ${(body.length / MiB).toFixed(2)} MiB at once: HTTP ${run.statuses.join(', ')} in ${run.ms.toFixed(0)} ms; peak RSS ${after.maxRssMiB.toFixed(0)} MiB ` +
          `(+${(after.maxRssMiB - idle.rssMiB).toFixed(0)}); longest event-loop block ${after.blockMs.toFixed(0)} ms, slowest /healthz ${run.healthzMs.toFixed(0)} ms`,
      );
    } finally {
      child.stop();
    }
  }
}

if (process.argv[2] === 'serve') await serve();
else await main();
