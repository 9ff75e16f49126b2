// The HTTP behaviour of the server assembled from its parts, with a fake admission context: what
// the real server cannot easily be made to do (fail readiness while up, throw inside admission).
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionContext } from '../../../src/admission/admit.ts';
import type { MutationPolicy } from '../../../src/admission/mutate-pod.ts';
import { parseRegistryPrefix, type RegistryPrefix } from '../../../src/image/registry-prefix.ts';
import { createHttpsServer, DEFAULT_CONNECTION_LIMITS } from '../../../src/server/https-server.ts';
import { createMetrics } from '../../../src/server/metrics.ts';
import { createMutateHandler } from '../../../src/server/mutate-handler.ts';
import { createOpsApp } from '../../../src/server/ops-app.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { postReview, send } from '../../support/http.ts';
import { captureLogs } from '../helpers/logs.ts';
import { pod, review } from '../../support/reviews.ts';
import { generateTls, type TlsFixture } from '../helpers/tls.ts';

function prefix(entry: string): RegistryPrefix {
  const parsed = parseRegistryPrefix(entry);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.prefix;
}

const POLICY: MutationPolicy = {
  rewrite: { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: [prefix('quay.io/acme')] },
  registryDomain: 'registry.example.com',
  pullSecretName: 'my-app-registry',
};

interface Harness {
  server: Server;
  port: number;
  ensured: string[];
  logs: ReturnType<typeof captureLogs>;
  setReady(value: boolean): void;
}

let tls: TlsFixture;
let dir: ReturnType<typeof tempDir>;
const open: Server[] = [];

beforeAll(() => {
  dir = tempDir();
  tls = generateTls(dir.path);
});
afterAll(() => dir.remove());
afterEach(async () => {
  await Promise.all(
    open.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

async function harness(overrides: Partial<AdmissionContext> = {}, mutate?: Parameters<typeof createHttpsServer>[1]): Promise<Harness> {
  const logs = captureLogs('debug');
  const ensured: string[] = [];
  let ready = true;
  const context: AdmissionContext = {
    policy: () => POLICY,
    standingWarnings: () => [],
    serves: (ns) => ns !== 'kube-system',
    ensurePullSecret: async (ns) => void ensured.push(ns),
    ...overrides,
  };
  const handler = mutate ?? createMutateHandler({ admission: context, logger: logs.logger, metrics: createMetrics({ defaultMetrics: false }), bodyLimit: 1024 * 1024 });
  const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler, createOpsApp({ ready: () => ready }, logs.logger), logs.logger);
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, ensured, logs, setReady: (v) => (ready = v) };
}

describe('createHttpsServer', () => {
  it('keeps idle connections longer than the API server (90 s) and bounds the other phases (hostile-connections.test.ts)', async () => {
    const { server } = await harness();
    expect(DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs).toBeGreaterThan(90_000);
    expect(server.keepAliveTimeout).toBe(DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs);
    expect(server.headersTimeout).toBe(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs);
    // requestTimeout 0 would disable it; a stuck client must not hold a socket forever.
    expect(server.requestTimeout).toBe(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs);
    expect(server.requestTimeout).toBeGreaterThan(0);
  });

  it('answers 500 with a JSON error when the mutate handler itself fails, and keeps serving', async () => {
    const h = await harness({}, async () => {
      throw new Error('boom');
    });
    const answer = await postReview(h.port, tls.caPem, review(pod('p', [{ name: 'a', image: 'nginx' }])));
    expect(answer.status).toBe(500);
    expect(answer.json()).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(h.logs.records().some((r) => r.msg === 'mutate handler failed' && r.err === 'boom')).toBe(true);
    expect((await send(h.port, { path: '/healthz', ca: tls.caPem })).status).toBe(200);
  });
});

describe('readiness', () => {
  it('turns /readyz to 503 while not ready, leaving /healthz at 200', async () => {
    const h = await harness();
    expect((await send(h.port, { path: '/readyz', ca: tls.caPem })).status).toBe(200);
    h.setReady(false);
    const notReady = await send(h.port, { path: '/readyz', ca: tls.caPem });
    expect(notReady.status).toBe(503);
    expect((await send(h.port, { path: '/healthz', ca: tls.caPem })).status).toBe(200);
    h.setReady(true);
    expect((await send(h.port, { path: '/readyz', ca: tls.caPem })).status).toBe(200);
  });

  it('answers other methods on /mutate with 405 and an Allow header', async () => {
    const h = await harness();
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await send(h.port, { method, path: '/mutate', ca: tls.caPem });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.allow).toBe('POST');
    }
  });

  it('routes POST /mutate with a query string to the admission handler', async () => {
    const h = await harness();
    const answer = await send(h.port, {
      method: 'POST',
      path: '/mutate?timeout=10s',
      ca: tls.caPem,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { uid: 'q' })),
    });
    expect(answer.status).toBe(200);
    expect(answer.json().response).toMatchObject({ uid: 'q', patchType: 'JSONPatch' });
  });
});

describe('admission failures', () => {
  it('admits unchanged with a warning when admission throws, and logs it under the request uid', async () => {
    const h = await harness({
      policy: () => {
        throw new Error('defect');
      },
    });
    const answer = await postReview(h.port, tls.caPem, review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { uid: 'uid-defect', apiVersion: 'admission.k8s.io/v1beta1' }));
    expect(answer.status).toBe(200);
    const out = answer.json();
    expect(out.apiVersion).toBe('admission.k8s.io/v1beta1');
    expect(out.response).toEqual({ uid: 'uid-defect', allowed: true, warnings: [expect.stringContaining('internal error')] });
    expect(h.logs.records().some((r) => r.reqId === 'uid-defect' && r.level === 50)).toBe(true);
  });

  it('admits with the patch and a warning naming the secret and namespace when the pull secret cannot be ensured', async () => {
    const h = await harness({
      ensurePullSecret: async () => {
        throw new Error('reading secret failed with HTTP 403: forbidden');
      },
    });
    const answer = await postReview(h.port, tls.caPem, review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { namespace: 'ns-x' }));
    const { response } = answer.json();
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(response.warnings).toEqual([expect.stringMatching(/"my-app-registry".*"ns-x".*HTTP 403/)]);
  });

  it('passes standing warnings through on every response', async () => {
    const h = await harness({ standingWarnings: () => ['pullgate: standing'] });
    const bodies = [
      review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }])),
      review(pod('p', [{ name: 'a', image: 'nginx' }])),
      review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { namespace: 'kube-system' }),
      review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }], { labels: { 'pullgate.dev/inject': 'disabled' } })),
    ];
    for (const body of bodies) {
      expect((await postReview(h.port, tls.caPem, body)).json().response.warnings).toEqual(['pullgate: standing']);
    }
  });
});

describe('robustness', () => {
  it('answers any JSON body with 200 (a review) or 400 (a coded error), never anything else', async () => {
    const h = await harness();
    const bodies = fc.oneof(
      fc.json(),
      fc.record({ apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'), kind: fc.constant('AdmissionReview'), request: fc.anything() }).map((v) => JSON.stringify(v)),
      fc
        .record({ uid: fc.string({ minLength: 1 }), object: fc.anything(), operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'), namespace: fc.string() })
        .map((request) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, resource: { group: '', version: 'v1', resource: 'pods' } } })),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const answer = await postReview(h.port, tls.caPem, body);
        expect([200, 400]).toContain(answer.status);
        const out = answer.json();
        if (answer.status === 200) {
          expect(out.kind).toBe('AdmissionReview');
          expect(out.response.allowed).toBe(true);
          expect(out.response.uid).toBe(JSON.parse(body).request.uid);
        } else {
          expect(typeof out.code).toBe('string');
        }
      }),
      { numRuns: 60 },
    );
  });
});
