// The real webhook, as `pullgate serve` starts it: HTTPS on an ephemeral port, metrics on another,
// the pull secret keeper talking to a stub API server (test/unit/helpers/kube-stub.ts).
import { connect } from 'node:net';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import fjp from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPullgate, type RunningPullgate } from '../../../src/server/start.ts';
import { AUTH, LICENSE_ID, tempDir, writeSetup } from '../helpers/fixtures.ts';
import { postReview, send } from '../helpers/http.ts';
import { startKubeStub, type KubeStub } from '../helpers/kube-stub.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { pod, review } from '../helpers/reviews.ts';
import { generateTls, type TlsFixture } from '../helpers/tls.ts';

const { applyPatch, deepClone } = fjp;

// Key generation and server start-up, on a busy machine.
vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });
const BODY_LIMIT = 64 * 1024;
const SECRET_NAME = 'my-app-registry';

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

async function start(w: World, logs: CapturedLogs, license: Parameters<typeof writeSetup>[1] = {}, bodyLimit = BODY_LIMIT): Promise<RunningPullgate> {
  const { configFile } = writeSetup(w.dir.path, license);
  return startPullgate({
    configFile,
    tls: { certFile: w.tls.certFile, keyFile: w.tls.keyFile },
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    ownNamespace: 'pullgate',
    kubeconfig: w.kubeconfig,
    bodyLimit,
    logger: logs.logger,
  });
}

function decodePatch(response: { patch?: string }) {
  return JSON.parse(Buffer.from(response.patch!, 'base64').toString('utf8')) as fjp.Operation[];
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
    logs = captureLogs('info');
    running = await start(w, logs);
  });

  afterAll(async () => {
    await running?.shutdown();
    await w?.stub.close();
    w?.dir.remove();
  });

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

    it('has created the pull secret in the namespace before answering', async () => {
      await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'team-a' }));
      const secret = w.stub.secrets.get(`team-a/${SECRET_NAME}`) as
        | { type: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; data: Record<string, string> }
        | undefined;
      expect(secret).toBeDefined();
      expect(secret!.type).toBe('kubernetes.io/dockerconfigjson');
      expect(secret!.metadata).toMatchObject({ name: SECRET_NAME, namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'pullgate' } });
      const config = JSON.parse(Buffer.from(secret!.data['.dockerconfigjson']!, 'base64').toString('utf8'));
      expect(config).toEqual({ auths: { 'proxy.example.com': { auth: AUTH }, 'registry.example.com': { auth: AUTH } } });
      expect(w.stub.callsFor('team-a').map((c) => c.method)).toEqual(['GET', 'POST']);

      // A second Pod in the same namespace is served from the keeper's cache.
      await postReview(running.port, ca, review(PRIVATE_POD, { namespace: 'team-a' }));
      expect(w.stub.callsFor('team-a')).toHaveLength(2);
    });

    it('answers a v1beta1 review in v1beta1 with the uid echoed', async () => {
      const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: 'uid-beta', apiVersion: 'admission.k8s.io/v1beta1' }));
      expect(answer.status).toBe(200);
      const out = answer.json();
      expect(out.apiVersion).toBe('admission.k8s.io/v1beta1');
      expect(out.kind).toBe('AdmissionReview');
      expect(out.response).toMatchObject({ uid: 'uid-beta', allowed: true, patchType: 'JSONPatch' });
    });

    it('allows a public-only Pod with no patchType and no patch field', async () => {
      const answer = await postReview(running.port, ca, review(pod('pub', [{ name: 'n', image: 'nginx:1.27' }, { name: 'r', image: 'quay.io/other/redis' }]), { uid: 'uid-public', namespace: 'public-ns' }));
      expect(answer.status).toBe(200);
      const { response } = answer.json();
      expect(response).toEqual({ uid: 'uid-public', allowed: true });
      expect(response).not.toHaveProperty('patchType');
      expect(response).not.toHaveProperty('patch');
      expect(w.stub.callsFor('public-ns')).toEqual([]);
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

    it('never mutates in kube-system or its own namespace', async () => {
      for (const namespace of ['kube-system', 'pullgate']) {
        const answer = await postReview(running.port, ca, review(PRIVATE_POD, { uid: `uid-${namespace}`, namespace }));
        expect(answer.json().response).toEqual({ uid: `uid-${namespace}`, allowed: true });
        expect(w.stub.callsFor(namespace)).toEqual([]);
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
      expect(logs.records().some((r) => r.msg === 'pull secret created' && r.namespace === 'log-ns')).toBe(true);

      const text = logs.text();
      expect(text).not.toContain(LICENSE_ID);
      expect(text).not.toContain(AUTH);
      const dockerConfig = (w.stub.secrets.get(`log-ns/${SECRET_NAME}`) as { data: Record<string, string> }).data['.dockerconfigjson']!;
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
    running = await start(w, logs, { expiresAt: '2020-01-01T00:00:00Z', customerName: 'Expired Inc' });
  });

  afterAll(async () => {
    await running?.shutdown();
    await w?.stub.close();
    w?.dir.remove();
  });

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
    const running2 = await start(w2, captureLogs(), { expiresAt: '2999-01-01T00:00:00Z' });
    try {
      const { response } = (await postReview(running2.port, w2.tls.caPem, review(pod('pub', [{ name: 'n', image: 'nginx' }]), { uid: 'f1' }))).json();
      expect(response).toEqual({ uid: 'f1', allowed: true });
    } finally {
      await running2.shutdown();
      await w2.stub.close();
      w2.dir.remove();
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
