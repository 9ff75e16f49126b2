// The real webhook, as `pullgate serve` starts it: HTTPS on an ephemeral port, metrics on another,
// its watches, leader election and pull secrets talking to an in-memory API server
// (test/unit/helpers/kube-stub.ts).
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import fjp from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LEASE_NAME as LEADER_LEASE_NAME } from '../../../src/k8s/access-policy.ts';
import { startPullgate, type RunningPullgate } from '../../../src/server/start.ts';
import { withDeadline } from '../../../src/util/with-deadline.ts';
import { eventually } from '../../support/eventually.ts';
import { AUTH, LICENSE_ID, tempDir, writeSetup, type LicenseFields } from '../helpers/fixtures.ts';
import { postReview, send } from '../../support/http.ts';
import { startKubeStub, type KubeObject, type KubeStub, type StubCall } from '../helpers/kube-stub.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { pod, review } from '../../support/reviews.ts';
import { generateTls, type TlsFixture } from '../helpers/tls.ts';

const { applyPatch, deepClone } = fjp;

// Key generation and server start-up, on a busy machine.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });
const BODY_LIMIT = 64 * 1024;
const SECRET_NAME = 'my-app-registry';
const OPT_IN = { 'pullgate.dev/inject': 'enabled' };
/** The contract's `.dockerconfigjson` for the test license, decoded. */
const DOCKER_CONFIG = { auths: { 'proxy.example.com': { auth: AUTH }, 'registry.example.com': { auth: AUTH } } };

interface World {
  dir: ReturnType<typeof tempDir>;
  tls: TlsFixture;
  stub: KubeStub;
  kubeconfig: string;
}

async function world(): Promise<World> {
  const dir = tempDir();
  const tls = generateTls(dir.path);
  const stub = await startKubeStub(tls);
  return { dir, tls, stub, kubeconfig: stub.writeKubeconfig(join(dir.path, 'kubeconfig')) };
}

async function dispose(w: World | undefined, running?: RunningPullgate): Promise<void> {
  await running?.shutdown();
  await w?.stub.close();
  w?.dir.remove();
}

interface StartOptions {
  license?: LicenseFields;
  bodyLimit?: number;
  port?: number;
  metricsPort?: number;
}

function start(w: World, logs: CapturedLogs, options: StartOptions = {}): Promise<RunningPullgate> {
  const { configFile } = writeSetup(w.dir.path, options.license ?? {});
  return startPullgate({
    configFile,
    tls: { certFile: w.tls.certFile, keyFile: w.tls.keyFile },
    host: '127.0.0.1',
    port: options.port ?? 0,
    metricsPort: options.metricsPort ?? 0,
    ownNamespace: 'pullgate',
    kubeconfig: w.kubeconfig,
    bodyLimit: options.bodyLimit ?? BODY_LIMIT,
    logger: logs.logger,
  });
}

async function readyz(running: RunningPullgate, ca: string): Promise<number> {
  return (await send(running.port, { path: '/readyz', ca })).status;
}

/** Started is not ready: the caches sync after startPullgate returns. */
async function untilReady(running: RunningPullgate, ca: string): Promise<void> {
  await eventually('pullgate ready', async () => (await readyz(running, ca)) === 200, 20_000);
}

/** Another replica holds the leader Lease (for an hour): this one only admits, its reconciler stays idle. */
function leaseHeldByAnotherReplica(stub: KubeStub): void {
  const now = new Date().toISOString();
  stub.leases.set(`pullgate/${LEADER_LEASE_NAME}`, { spec: { holderIdentity: 'another-replica', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
}

const isLeaseCall = (c: StubCall) => c.path.startsWith('/apis/coordination.k8s.io/');
/** What admission (and the reconciler) cost: every request but the watches and the leader Lease's. */
const requests = (stub: KubeStub) => stub.calls.filter((c) => !c.watch && !isLeaseCall(c));
const described = (calls: StubCall[]) => calls.map((c) => `${c.method} ${c.path}`);

function decodePatch(response: { patch?: string }) {
  return JSON.parse(Buffer.from(response.patch!, 'base64').toString('utf8')) as fjp.Operation[];
}

function dockerConfigOf(secret: KubeObject | undefined): unknown {
  const data = (secret?.data as Record<string, string> | undefined)?.['.dockerconfigjson'];
  return data === undefined ? undefined : JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const PRIVATE_POD = pod('web', [
  { name: 'web', image: 'quay.io/acme/web:1.2' },
  { name: 'sidecar', image: 'nginx:1.27' },
]);

describe('pullgate serve over HTTPS', () => {
  let w: World;
  let logs: CapturedLogs;
  let running: RunningPullgate;
  let ca: string;

  beforeAll(async () => {
    w = await world();
    ca = w.tls.caPem;
    for (const ns of ['my-app', 'monitoring', 'not-served']) w.stub.addNamespace(ns);
    // kube-system and pullgate's own namespace carry the opt-in label too: it must not matter.
    for (const ns of ['team-a', 'dry-ns', 'log-ns', 'kube-system', 'pullgate']) w.stub.addNamespace(ns, OPT_IN);
    leaseHeldByAnotherReplica(w.stub);
    logs = captureLogs('info');
    running = await start(w, logs);
    await untilReady(running, ca);
  });

  afterAll(() => dispose(w, running));

  describe('admission', () => {
    it('answers a v1 review in v1 with the uid echoed and a JSON patch that yields the rewritten Pod', async () => {
      const body = review(PRIVATE_POD, { uid: 'uid-v1-create' });
      const answer = await postReview(running.port, ca, body);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const out = answer.json();
      expect(out).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-v1-create', allowed: true, patchType: 'JSONPatch' } });
      expect(out.response.warnings).toBeUndefined();

      const patchedPod = applyPatch(deepClone(PRIVATE_POD), decodePatch(out.response), true, false).newDocument;
      const expected = deepClone(PRIVATE_POD);
      expected.spec.containers[0].image = 'proxy.example.com/proxy/my-app/quay.io/acme/web:1.2';
      expected.spec.imagePullSecrets = [{ name: SECRET_NAME }];
      expected.metadata.annotations = { 'pullgate.dev/original-images': JSON.stringify({ 'containers/web': 'quay.io/acme/web:1.2' }) };
      expect(patchedPod).toEqual(expected);
    });

    it('has created the pull secret before answering: one POST, as the synced cache knows it is missing', async () => {
      expect(w.stub.secrets.has(`team-a/${SECRET_NAME}`)).toBe(false);
      const answer = (await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'team-a' }))).json();
      expect(answer.response.warnings).toBeUndefined();
      const secret = w.stub.secrets.get(`team-a/${SECRET_NAME}`);
      expect(secret).toBeDefined();
      expect(secret!.type).toBe('kubernetes.io/dockerconfigjson');
      expect(secret!.metadata).toMatchObject({ name: SECRET_NAME, namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'pullgate' } });
      expect(dockerConfigOf(secret)).toEqual(DOCKER_CONFIG);
      // Labels from the namespace watch (no read of the Namespace), absence from the secret watch (no GET).
      expect(described(w.stub.callsFor('team-a'))).toEqual([`POST /api/v1/namespaces/team-a/secrets`]);
    });

    it('a Pod in a namespace whose secret the cache holds costs no API request', async () => {
      const created = w.stub.secrets.get(`team-a/${SECRET_NAME}`)!.metadata?.resourceVersion;
      expect(created).toBeDefined();
      // The watch delivers the created secret a moment after the create: until then a Pod may still
      // cost a request (a create answered 409, and a read).
      const admitFree = async () => {
        const before = requests(w.stub).length;
        const { response } = (await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'team-a' }))).json();
        expect(decodePatch(response)).toContainEqual({ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: SECRET_NAME }] });
        expect(response.warnings).toBeUndefined();
        return described(requests(w.stub).slice(before));
      };
      await eventually('the secret watch to deliver the created secret', async () => (await admitFree()).length === 0, 20_000);
      for (let i = 0; i < 5; i++) expect(await admitFree()).toEqual([]);
      // Nor was it ever written again.
      expect(w.stub.secrets.get(`team-a/${SECRET_NAME}`)!.metadata?.resourceVersion).toBe(created);
    });

    it('answers a v1beta1 review in v1beta1 with the uid echoed', async () => {
      const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-beta', apiVersion: 'admission.k8s.io/v1beta1' }));
      expect(answer.status).toBe(200);
      const out = answer.json();
      expect(out.apiVersion).toBe('admission.k8s.io/v1beta1');
      expect(out.kind).toBe('AdmissionReview');
      expect(out.response).toMatchObject({ uid: 'uid-beta', allowed: true, patchType: 'JSONPatch' });
    });

    it('allows a public-only Pod with no patchType and no patch field, and asks the API server nothing', async () => {
      const before = requests(w.stub).length;
      const answer = await postReview(running.port, ca, review(pod('pub', [{ name: 'n', image: 'nginx:1.27' }, { name: 'r', image: 'quay.io/other/redis' }]), { uid: 'uid-public', namespace: 'monitoring' }));
      expect(answer.status).toBe(200);
      const { response } = answer.json();
      expect(response).toEqual({ uid: 'uid-public', allowed: true });
      expect(response).not.toHaveProperty('patchType');
      expect(response).not.toHaveProperty('patch');
      expect(described(requests(w.stub).slice(before))).toEqual([]);
      expect(w.stub.secrets.has(`monitoring/${SECRET_NAME}`)).toBe(false);
    });

    it('allows a non-Pod resource (ConfigMap) unchanged', async () => {
      const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'cm-ns' }, data: { image: 'quay.io/acme/web:1' } };
      const answer = await postReview(
        running.port,
        ca,
        review(configMap, { uid: 'uid-cm', namespace: 'cm-ns', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' } }),
      );
      expect(answer.status).toBe(200);
      expect(answer.json().response).toEqual({ uid: 'uid-cm', allowed: true });
      expect(w.stub.callsFor('cm-ns')).toEqual([]);
    });

    it('leaves a namespace out of scope alone: no patch, no secret, counted as out-of-scope', async () => {
      // It exists, without the opt-in label, and is not configured: the cache says "not served",
      // so the Namespace is read once more from the API server before the Pod is turned away.
      const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-out', namespace: 'not-served' }));
      expect(answer.json().response).toEqual({ uid: 'uid-out', allowed: true });
      expect(described(w.stub.callsFor('not-served'))).toEqual(['GET /api/v1/namespaces/not-served']);
      expect(w.stub.secrets.has(`not-served/${SECRET_NAME}`)).toBe(false);
      const metrics = await send(running.metricsPort, { path: '/metrics' });
      expect(metrics.text).toMatch(/^pullgate_admission_requests_total\{operation="CREATE",decision="out-of-scope"\} 1$/m);
      expect(logs.records().find((r) => r.reqId === 'uid-out')).toMatchObject({ msg: 'admission decided', namespace: 'not-served', decision: 'out-of-scope' });
    });

    it('mutates a dry-run request but does not touch the pull secret', async () => {
      const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-dry', namespace: 'dry-ns', dryRun: true }));
      expect(answer.status).toBe(200);
      const { response } = answer.json();
      expect(response).toMatchObject({ uid: 'uid-dry', allowed: true, patchType: 'JSONPatch' });
      expect(decodePatch(response)).toContainEqual({ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: SECRET_NAME }] });
      expect(w.stub.callsFor('dry-ns')).toEqual([]);
      expect(w.stub.secrets.has(`dry-ns/${SECRET_NAME}`)).toBe(false);

      // The same request for real does create it: the stub would have seen a dry-run one.
      await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'dry-ns' }));
      expect(w.stub.secrets.has(`dry-ns/${SECRET_NAME}`)).toBe(true);
    });

    it('passes warnings through: an invalid image reference is named and left unchanged', async () => {
      const bad = 'quay.io/acme/Web:1';
      const answer = await postReview(running.port, ca, review(pod('bad', [{ name: 'bad', image: bad }, { name: 'ok', image: 'quay.io/acme/ok:1' }]), { uid: 'uid-warn' }));
      const { response } = answer.json();
      expect(response.uid).toBe('uid-warn');
      expect(response.warnings).toEqual([expect.stringContaining(`"${bad}"`)]);
      const ops = decodePatch(response);
      expect(ops.some((op) => op.path === '/spec/containers/0/image')).toBe(false);
      expect(ops).toContainEqual({ op: 'replace', path: '/spec/containers/1/image', value: 'proxy.example.com/proxy/my-app/quay.io/acme/ok:1' });
    });

    it('never mutates in kube-system or its own namespace, opt-in label or not', async () => {
      for (const namespace of ['kube-system', 'pullgate']) {
        const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: `uid-${namespace}`, namespace }));
        expect(answer.json().response).toEqual({ uid: `uid-${namespace}`, allowed: true });
        expect(w.stub.callsFor(namespace).filter((c) => !isLeaseCall(c))).toEqual([]);
        expect(w.stub.secrets.has(`${namespace}/${SECRET_NAME}`)).toBe(false);
      }
    });
  });

  describe('refused requests', () => {
    it('refuses an empty body with 400', async () => {
      const answer = await postReview(running.port, ca, '');
      expect(answer.status).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'EMPTY_BODY' });
    });

    it('refuses a wrong content type with 415', async () => {
      const answer = await postReview(running.port, ca, review(PRIVATE_POD), { 'content-type': 'text/plain' });
      expect(answer.status).toBe(415);
      expect(answer.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    });

    it('accepts application/json with a charset parameter', async () => {
      const answer = await postReview(running.port, ca, review(PRIVATE_POD), { 'content-type': 'application/json; charset=utf-8' });
      expect(answer.status).toBe(200);
    });

    it('refuses malformed JSON with 400 and a reason, without echoing the body', async () => {
      // V8's message quotes the input around a bad token; here that is a credential.
      const body = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"env":[{"name":"PASSWORD","value":hunter2}]}}}';
      const answer = await postReview(running.port, ca, body);
      expect(answer.status).toBe(400);
      const out = answer.json();
      expect(out.code).toBe('MALFORMED_JSON');
      expect(out.message).toMatch(/not valid JSON: \S/);
      expect(answer.text).not.toContain('hunter2');

      const truncated = await postReview(running.port, ca, '{"apiVersion":"admission.k8s.io/v1"');
      expect(truncated.status).toBe(400);
      expect(truncated.json().message).toMatch(/not valid JSON: .*position/);
      expect(logs.text()).not.toContain('hunter2');
    });

    it('refuses a review without request.uid with 400', async () => {
      const body = review(PRIVATE_POD);
      delete (body.request as { uid?: string }).uid;
      const answer = await postReview(running.port, ca, body);
      expect(answer.status).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'MISSING_UID' });
    });

    it('refuses JSON that is not an AdmissionReview with 400', async () => {
      for (const body of [{ kind: 'Pod' }, [], 'null', { apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: { uid: 'u' } }, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }]) {
        const answer = await postReview(running.port, ca, typeof body === 'string' ? body : JSON.stringify(body));
        expect(answer.status, JSON.stringify(body)).toBe(400);
        expect(answer.json().code).toBe('NOT_ADMISSION_REVIEW');
      }
    });

    it('refuses an oversized body with 413, declared or streamed, and stays healthy', async () => {
      const big = JSON.stringify(review(pod('big', [{ name: 'x', image: 'quay.io/acme/x:' + '1'.repeat(100) }]), {})).padEnd(BODY_LIMIT + 1024, ' ');
      const declared = await postReview(running.port, ca, big);
      expect(declared.status).toBe(413);
      expect(declared.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });

      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const streamed = await send(running.port, {
        method: 'POST',
        path: '/mutate',
        ca,
        headers: { 'content-type': 'application/json' },
        chunks: Array.from({ length: 8 }, () => chunk),
      });
      expect(streamed.status).toBe(413);
      expect(streamed.headers.connection).toBe('close');

      expect((await send(running.port, { path: '/healthz', ca })).status).toBe(200);
      const after = await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-after-413' }));
      expect(after.status).toBe(200);
      expect(after.json().response.uid).toBe('uid-after-413');
    });
  });

  describe('operational endpoints', () => {
    it('serves /healthz and /readyz with 200', async () => {
      const health = await send(running.port, { path: '/healthz', ca });
      expect([health.status, health.text]).toEqual([200, 'ok']);
      const ready = await send(running.port, { path: '/readyz', ca });
      expect([ready.status, ready.text]).toEqual([200, 'ok']);
    });

    it('answers an unknown path with 404 and GET /mutate with 405', async () => {
      const unknown = await send(running.port, { path: '/nope', ca });
      expect(unknown.status).toBe(404);
      const get = await send(running.port, { path: '/mutate', ca });
      expect(get.status).toBe(405);
      expect(get.headers.allow).toBe('POST');
    });

    it('does not serve metrics on the HTTPS port, nor anything but /metrics on the metrics port', async () => {
      expect((await send(running.port, { path: '/metrics', ca })).status).toBe(404);
      expect((await send(running.metricsPort, { path: '/healthz' })).status).toBe(404);
    });

    it('serves Prometheus metrics on the plain-HTTP metrics port, without credentials', async () => {
      await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-metrics' }));
      await postReview(running.port, ca, '');
      const metrics = await send(running.metricsPort, { path: '/metrics' });
      expect(metrics.status).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      expect(metrics.text).toMatch(/^pullgate_admission_requests_total\{operation="CREATE",decision="mutated"\} [1-9]\d*$/m);
      expect(metrics.text).toMatch(/^pullgate_rejected_requests_total\{code="EMPTY_BODY"\} [1-9]\d*$/m);
      expect(metrics.text).toMatch(/^pullgate_images_rewritten_total\{location="containers"\} [1-9]\d*$/m);
      expect(metrics.text).toMatch(/^pullgate_pull_secret_ensure_total\{result="created"\} [1-9]\d*$/m);
      // Another replica holds the lease: this one does not reconcile.
      expect(metrics.text).toMatch(/^pullgate_leader 0$/m);
      expect(metrics.text).not.toContain(LICENSE_ID);
      expect(metrics.text).not.toContain(AUTH);
    });

    it('keeps connections alive for the API server', async () => {
      // Two requests on one kept-alive connection: the second must reuse the first socket.
      const { Agent } = await import('node:https');
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
      try {
        const sockets = new Set<unknown>();
        for (let i = 0; i < 2; i += 1) {
          await new Promise<void>((resolve, reject) => {
            const req = httpsRequest({ host: '127.0.0.1', port: running.port, path: '/healthz', agent, servername: 'localhost' }, (res) => {
              sockets.add(res.socket);
              expect(res.headers['keep-alive']).toMatch(/timeout=(\d+)/);
              const timeout = Number(/timeout=(\d+)/.exec(String(res.headers['keep-alive']))![1]);
              expect(timeout).toBeGreaterThan(90);
              res.resume();
              res.on('end', () => resolve());
            });
            req.on('error', reject);
            req.end();
          });
        }
        expect(sockets.size).toBe(1);
      } finally {
        agent.destroy();
      }
    });
  });

  describe('logs', () => {
    it('use the request uid as reqId and never contain the license ID or an auth value', async () => {
      const uid = 'uid-logged-0001';
      await postReview(running.port, ca, review(PRIVATE_POD, { uid, namespace: 'log-ns' }));
      const decided = logs.records().filter((r) => r.reqId === uid);
      expect(decided).toHaveLength(1);
      expect(decided[0]).toMatchObject({ msg: 'admission decided', namespace: 'log-ns', decision: 'mutated', app: 'pullgate' });
      expect(w.stub.secrets.has(`log-ns/${SECRET_NAME}`)).toBe(true);

      const text = logs.text();
      expect(text).not.toContain(LICENSE_ID);
      expect(text).not.toContain(AUTH);
      const dockerConfig = (w.stub.secrets.get(`log-ns/${SECRET_NAME}`)!.data as Record<string, string>)['.dockerconfigjson']!;
      expect(text).not.toContain(dockerConfig);
    });
  });
});

describe('pullgate serve with an expired license', () => {
  let w: World;
  let running: RunningPullgate;
  const logs = captureLogs('info');

  beforeAll(async () => {
    w = await world();
    running = await start(w, logs, { license: { expiresAt: '2020-01-01T00:00:00Z', customerName: 'Expired Inc' } });
  });

  afterAll(() => dispose(w, running));

  it('puts the expiry warning on every response and still rewrites', async () => {
    const requests = [
      review(PRIVATE_POD, { uid: 'e1' }),
      review(pod('pub', [{ name: 'n', image: 'nginx' }]), { uid: 'e2' }),
      review(PRIVATE_POD, { uid: 'e3', namespace: 'kube-system' }),
      review({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, { uid: 'e4', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' } }),
      review(PRIVATE_POD, { uid: 'e5', apiVersion: 'admission.k8s.io/v1beta1' }),
    ];
    for (const body of requests) {
      const { response } = (await postReview(running.port, w.tls.caPem, body)).json();
      expect(response.uid).toBe(body.request.uid);
      expect(response.allowed).toBe(true);
      expect(response.warnings, body.request.uid).toContainEqual(expect.stringMatching(/Expired Inc.*expired at 2020-01-01T00:00:00\.000Z.*refuse/));
    }
    const first = (await postReview(running.port, w.tls.caPem, review(PRIVATE_POD))).json().response;
    expect(first.patchType).toBe('JSONPatch');
  });

  it('starts with no expiry warning for a license expiring in the future', async () => {
    const w2 = await world();
    const running2 = await start(w2, captureLogs(), { license: { expiresAt: '2999-01-01T00:00:00Z' } });
    try {
      const { response } = (await postReview(running2.port, w2.tls.caPem, review(pod('pub', [{ name: 'n', image: 'nginx' }]), { uid: 'f1' }))).json();
      expect(response).toEqual({ uid: 'f1', allowed: true });
    } finally {
      await dispose(w2, running2);
    }
  });
});

describe('pullgate serve readiness', () => {
  for (const [cache, path] of [['namespace', '/api/v1/namespaces'], ['pull secret', '/api/v1/secrets']] as const) {
    it(`answers /readyz 503 until the ${cache} cache has synced, and 200 once it has`, async () => {
      const w = await world();
      w.stub.addNamespace('my-app');
      leaseHeldByAnotherReplica(w.stub);
      w.stub.intercept = (call) => (call.path === path && !call.watch ? 'hang' : undefined);
      let running: RunningPullgate | undefined;
      try {
        running = await start(w, captureLogs());
        const ca = w.tls.caPem;
        const list = await eventually(`the ${cache} list to reach the API server`, () => w.stub.hung[0], 20_000);
        expect((await send(running.port, { path: '/healthz', ca })).status).toBe(200);
        expect(await readyz(running, ca)).toBe(503);

        if (cache === 'pull secret') {
          // Admitted meanwhile all the same: with nothing known of the secret, it is read, then created.
          const { response } = (await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'my-app' }))).json();
          expect(response.warnings).toBeUndefined();
          expect(described(w.stub.callsFor('my-app'))).toEqual([`GET /api/v1/namespaces/my-app/secrets/${SECRET_NAME}`, 'POST /api/v1/namespaces/my-app/secrets']);
          expect(dockerConfigOf(w.stub.secrets.get(`my-app/${SECRET_NAME}`))).toEqual(DOCKER_CONFIG);
          expect(await readyz(running, ca)).toBe(503);
        }

        delete w.stub.intercept;
        list.release();
        await untilReady(running, ca);
      } finally {
        await dispose(w, running);
      }
    });
  }
});

describe('pullgate serve leading', () => {
  let w: World;
  let running: RunningPullgate;
  const logs = captureLogs('info');

  beforeAll(async () => {
    w = await world();
    w.stub.addNamespace('my-app');
    w.stub.addNamespace('unrelated');
    running = await start(w, logs);
    await untilReady(running, w.tls.caPem);
  });

  afterAll(() => dispose(w, running));

  it('takes the free leader Lease and creates the pull secret in each namespace in scope, with no Pod', async () => {
    const secret = await eventually('the pull secret in my-app', () => w.stub.secrets.get(`my-app/${SECRET_NAME}`), 20_000);
    expect(dockerConfigOf(secret)).toEqual(DOCKER_CONFIG);
    expect(w.stub.leases.get(`pullgate/${LEADER_LEASE_NAME}`)?.spec).toMatchObject({ holderIdentity: expect.any(String), leaseDurationSeconds: 15 });
    expect((await send(running.metricsPort, { path: '/metrics' })).text).toMatch(/^pullgate_leader 1$/m);
    expect(w.stub.secrets.has(`unrelated/${SECRET_NAME}`)).toBe(false);
  });

  it('follows the watches: a namespace labelled later gets its secret, a tampered secret is repaired', async () => {
    w.stub.labelNamespace('unrelated', OPT_IN);
    const created = await eventually('the pull secret in the opted-in namespace', () => w.stub.secrets.get(`unrelated/${SECRET_NAME}`), 20_000);
    expect(dockerConfigOf(created)).toEqual(DOCKER_CONFIG);

    const tampered = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: 'c29tZW9uZTplbHNl' } } })).toString('base64');
    w.stub.secrets.set(`unrelated/${SECRET_NAME}`, { ...created, data: { '.dockerconfigjson': tampered } });
    const repaired = await eventually('the tampered secret repaired', () => {
      const now = w.stub.secrets.get(`unrelated/${SECRET_NAME}`);
      return now && (now.data as Record<string, string>)['.dockerconfigjson'] !== tampered ? now : undefined;
    }, 20_000);
    expect(dockerConfigOf(repaired)).toEqual(DOCKER_CONFIG);
    expect(repaired.metadata?.uid).toBe(created.metadata?.uid);
    expect(logs.text()).not.toContain(LICENSE_ID);
    expect(logs.text()).not.toContain(AUTH);
  });
});

describe('pullgate serve start and stop', () => {
  it('a failed start (the metrics port taken) rejects and leaves nothing open; the next start serves', async () => {
    const w = await world();
    w.stub.addNamespace('my-app');
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    let running: RunningPullgate | undefined;
    try {
      const port = await freePort();
      const failed = captureLogs('debug');
      await expect(start(w, failed, { port, metricsPort: (taken.address() as AddressInfo).port })).rejects.toMatchObject({ code: 'EADDRINUSE' });

      // The HTTPS port it had bound is free again.
      const again = createTcpServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => again.close(() => resolve()));

      // Started again, as a restarted process would be: it serves, and the only watches open are
      // its own two; the failed start's lists and watches, begun first, left nothing behind.
      running = await start(w, captureLogs(), { port });
      await untilReady(running, w.tls.caPem);
      expect(w.stub.openWatches().map((watch) => watch.call.path).sort()).toEqual(['/api/v1/namespaces', '/api/v1/secrets']);
      await running.shutdown();
      running = undefined;
      await eventually('every connection to the API server closed', () => w.stub.connections() === 0, 20_000);
      expect(w.stub.openWatches()).toEqual([]);
      expect(failed.records().filter((r) => r.msg === 'cache synced')).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
      await dispose(w, running);
    }
  });

  // A stop can come while the caches are still starting against a slow API server: what they had
  // begun must not outlive it.
  for (const stage of ['list', 'watch'] as const) {
    const requests = stage === 'list' ? 'lists' : 'watches';
    it(`stopped while its cache ${requests} are unanswered, it ${stage === 'list' ? 'hangs up on them and opens no watch' : 'closes the watches as they open'}`, async () => {
      const w = await world();
      w.stub.addNamespace('my-app');
      leaseHeldByAnotherReplica(w.stub);
      const cachePaths = ['/api/v1/namespaces', '/api/v1/secrets'];
      w.stub.intercept = (call) => (cachePaths.includes(call.path) && call.watch === (stage === 'watch') ? 'hang' : undefined);
      let running: RunningPullgate | undefined;
      try {
        running = await start(w, captureLogs());
        const hung = await eventually(`both cache ${requests} to reach the API server`, () => (w.stub.hung.length === 2 ? [...w.stub.hung] : undefined), 20_000);
        expect(hung.map((h) => h.call.path).sort()).toEqual(cachePaths);
        await running.shutdown();
        running = undefined;
        const allClosed = () => withDeadline(Promise.all(hung.map((h) => h.closed)), 10_000, `a cache ${stage} is still open after shutdown`);
        if (stage === 'list') {
          // Well before the list's own deadline: the stop hung up on it.
          await allClosed();
          for (const h of hung) h.release();
        } else {
          // The client cannot abort a watch it is still connecting; once the API server answers, the
          // stopped cache must hang up.
          for (const h of hung) h.release();
          await allClosed();
        }
        expect(w.stub.openWatches()).toEqual([]);
        expect(w.stub.calls.filter((c) => c.watch && !hung.some((h) => h.call === c))).toEqual([]);
      } finally {
        await dispose(w, running);
      }
    });
  }

  it('shutdown closes its watches and releases the leader Lease', async () => {
    const w = await world();
    w.stub.addNamespace('my-app');
    let running: RunningPullgate | undefined;
    try {
      running = await start(w, captureLogs());
      await untilReady(running, w.tls.caPem);
      const lease = await eventually('the leader Lease taken', () => w.stub.leases.get(`pullgate/${LEADER_LEASE_NAME}`)?.spec as { holderIdentity?: string } | undefined, 20_000);
      expect(lease.holderIdentity).toBeTruthy();
      const open = w.stub.openWatches();
      expect(open.map((watch) => watch.call.path).sort()).toEqual(['/api/v1/namespaces', '/api/v1/secrets']);

      await running.shutdown();
      running = undefined;
      await withDeadline(Promise.all(open.map((watch) => watch.closed)), 10_000, 'a watch is still open after shutdown');
      expect(w.stub.openWatches()).toEqual([]);
      // Released: no holder, so a peer takes over at its next attempt instead of waiting for expiry.
      expect((w.stub.leases.get(`pullgate/${LEADER_LEASE_NAME}`)?.spec as { holderIdentity?: string }).holderIdentity).toBeUndefined();
    } finally {
      await dispose(w, running);
    }
  });
});

describe('pullgate serve shutdown', () => {
  it('finishes an in-flight request on a kept-alive connection, closes it, then stops accepting connections', async () => {
    const w = await world();
    const running = await start(w, captureLogs());
    try {
      const body = Buffer.from(JSON.stringify(review(PRIVATE_POD, { uid: 'uid-in-flight' })));
      let resolveAnswer: (v: { status: number; text: string; connection?: string }) => void;
      const answer = new Promise<{ status: number; text: string; connection?: string }>((r) => (resolveAnswer = r));
      // The API server pools connections: a keep-alive agent, as it would use.
      const keepAlive = new HttpsAgent({ keepAlive: true });
      const req = httpsRequest(
        { host: '127.0.0.1', port: running.port, method: 'POST', path: '/mutate', ca: w.tls.caPem, servername: 'localhost', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString(), connection: res.headers.connection }));
        },
      );
      req.on('error', (err) => resolveAnswer({ status: -1, text: err.message }));
      // Half the body now; the request is in flight when shutdown begins.
      req.write(body.subarray(0, 100));
      await new Promise((r) => setTimeout(r, 100));
      let stopped = false;
      const stopping = running.shutdown().then(() => (stopped = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(stopped).toBe(false);
      req.end(body.subarray(100));
      const result = await answer;
      expect(result.status).toBe(200);
      expect(JSON.parse(result.text).response.uid).toBe('uid-in-flight');
      expect(result.connection).toBe('close');
      // Resolves because the pooled connection was closed, not after the 120 s keep-alive.
      await stopping;
      keepAlive.destroy();

      const refused = await new Promise<string>((resolve) => {
        const socket = connect(running.port, '127.0.0.1');
        socket.on('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      await w.stub.close();
      w.dir.remove();
    }
  });
});
