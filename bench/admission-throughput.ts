// Admission throughput: pullgate's real HTTPS /mutate path against a bare node:https handler and an
// express route (express.json + res.json) doing the same admission, all loaded by wrk over HTTPS
// from a separate process. Prints requests/s, the share of bare, and latency. `npm run bench`.
// Needs wrk (Debian package `wrk`). Figures vary with the machine; the ratios are what to compare.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { admit, type AdmissionContext } from '../src/admission/admit.ts';
import { reviewOf } from '../src/admission/response.ts';
import { decodeReview } from '../src/admission/review.ts';
import { parseRegistryPrefix, type RegistryPrefix } from '../src/image/registry-prefix.ts';
import { createLogger } from '../src/logger.ts';
import { createHttpsServer } from '../src/server/https-server.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { createMutateHandler } from '../src/server/mutate-handler.ts';
import { createOpsApp } from '../src/server/ops-app.ts';
import { createCertificateAuthority, issueServingCert } from '../src/tls/certificates.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
if (spawnSync('wrk', ['--version']).error) {
  console.error('wrk not found: apt-get install wrk');
  process.exit(2);
}

const prefixes = ['quay.io/acme', 'docker.io/acme'].map((e) => (parseRegistryPrefix(e) as { ok: true; prefix: RegistryPrefix }).prefix);
const context: AdmissionContext = {
  policy: () => ({ rewrite: { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: prefixes }, registryDomain: 'registry.example.com', pullSecretName: 'my-app-registry' }),
  standingWarnings: () => [],
  serves: () => true,
  // The steady state: the watch holds the namespace's current secret, nothing to ask the API server.
  ensurePullSecret: async () => {},
};

// A typical review (~1.1 KB): a Pod with a private and a public container.
const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'my-app',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1b2', groups: ['system:serviceaccounts', 'system:authenticated'] },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-7d4b9c-', namespace: 'my-app', labels: { app: 'web', 'pod-template-hash': '7d4b9c' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', uid: 'c3d4', controller: true }] },
      spec: {
        containers: [
          { name: 'web', image: 'quay.io/acme/web:1.4.0', ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '128Mi' } } },
          { name: 'metrics', image: 'prom/statsd-exporter:v0.26.0' },
        ],
        restartPolicy: 'Always',
        serviceAccountName: 'default',
      },
    },
    oldObject: null,
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  },
});

const dir = mkdtempSync(join(tmpdir(), 'pullgate-bench-'));
const ca = createCertificateAuthority('bench-ca');
const tls = issueServingCert(ca, [], 'localhost');
const silent = createLogger({ level: 'silent' });

function bare(): Server {
  return createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
      const text = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: body.request.uid, allowed: true } });
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
  });
}

function pullgate(): Server {
  const mutate = createMutateHandler({ admission: context, logger: silent, metrics: createMetrics({ defaultMetrics: false }), bodyLimit: 8 << 20 });
  return createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, mutate, createOpsApp({ ready: () => true }, silent), silent);
}

function expressRoute(): Server {
  const app = express();
  app.use(express.json({ limit: '8mb' }));
  app.post('/mutate', async (req, res) => {
    const decoded = decodeReview(req.body);
    const result = await admit(decoded.request, context);
    res.json(reviewOf(decoded.apiVersion, result.response));
  });
  return createServer({ cert: tls.certPem, key: tls.keyPem }, app);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const script = join(dir, 'post.lua');
writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(review)}\n`);

async function measure(name: string, server: Server): Promise<{ name: string; rps: number; p99: string }> {
  const port = await listen(server);
  // wrk runs as its own process; this process only serves. spawnSync would block our event loop,
  // so run it asynchronously.
  const { spawn } = await import('node:child_process');
  const out = await new Promise<string>((resolve) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `https://127.0.0.1:${port}/mutate`]);
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('close', () => resolve(text));
  });
  server.close();
  server.closeAllConnections();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (non2xx) throw new Error(`${name}: ${non2xx} failed responses`);
  return { name, rps, p99: /99%\s+(\S+)/.exec(out)?.[1] ?? '?' };
}

console.log(`wrk -t1 -c${connections} -d${seconds}s, HTTPS, ${review.length}-byte AdmissionReview, Node ${process.version}\n`);
const results = [] as Array<{ name: string; rps: number; p99: string }>;
results.push(await measure('bare node:https, fixed answer', bare()));
results.push(await measure('pullgate /mutate (real admission + patch)', pullgate()));
results.push(await measure('express route + express.json, same admission', expressRoute()));
const base = results[0]!.rps;
for (const r of results) console.log(`${r.name.padEnd(48)} ${r.rps.toFixed(0).padStart(8)} req/s  ${((r.rps / base) * 100).toFixed(0).padStart(4)}% of bare  p99 ${r.p99}`);
console.log(`\nRSS after the runs: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
