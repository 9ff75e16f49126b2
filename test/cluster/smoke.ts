// Smoke test of the test control plane: node test/cluster/smoke.ts
// Starts a cluster, checks the version, controllers, helm, ServiceAccount tokens and ephemeral
// containers, stops it and checks that no server process is left. Prints timings.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueServingCert } from '../../src/tls/certificates.ts';
import { eventually } from '../support/eventually.ts';
import { startCluster, type Cluster } from './cluster.ts';
import { ensureBinaries } from './ensure-binaries.ts';
import { groupAlive } from './supervised-process.ts';

const EXPECTED_VERSION = 'v1.36.3';
const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const step = (msg: string): void => console.log(`[smoke ${elapsed()}] ${msg}`);

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`smoke: ${msg}`);
}

async function checks(c: Cluster): Promise<void> {
  const version = JSON.parse((await c.kubectl(['version', '-o', 'json'])).stdout) as {
    clientVersion: { gitVersion: string };
    serverVersion: { gitVersion: string };
  };
  step(`server ${version.serverVersion.gitVersion}, kubectl ${version.clientVersion.gitVersion}`);
  assert(version.serverVersion.gitVersion === EXPECTED_VERSION, `server version ${version.serverVersion.gitVersion}`);
  assert(version.clientVersion.gitVersion === EXPECTED_VERSION, `kubectl version ${version.clientVersion.gitVersion}`);

  // Deployment -> ReplicaSet -> Pod proves the controllers run; the Pod stays Pending (no scheduler).
  await c.kubectl(['create', 'deployment', 'smoke', '--image=registry.example.com/smoke:1', '--replicas=1']);
  const pod = await eventually('the Deployment\'s Pod', async () => {
    const pods = JSON.parse((await c.kubectl(['get', 'pods', '-l', 'app=smoke', '-o', 'json'])).stdout) as {
      items: { metadata: { name: string }; status?: { phase?: string } }[];
    };
    return pods.items[0];
  });
  step(`Deployment created Pod ${pod.metadata.name} (phase ${pod.status?.phase})`);

  // A ServiceAccount identity, as pullgate itself will run.
  await c.kubectl(['create', 'serviceaccount', 'smoke-sa']);
  const saKubeconfig = await c.serviceAccountKubeconfig('default', 'smoke-sa');
  const whoami = (await c.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: saKubeconfig })).stdout;
  assert(whoami === 'system:serviceaccount:default:smoke-sa', `whoami ${whoami}`);
  step(`ServiceAccount token works: ${whoami}`);

  // Ephemeral containers go through the pods/ephemeralcontainers subresource, not the kubelet.
  await c.kubectl(['run', 'debug-target', '--image=registry.example.com/smoke:1', '--restart=Never']);
  const debug = await c.kubectl(['debug', 'debug-target', '--image=busybox', '-c', 'dbg', '--target=debug-target'], { allowFailure: true });
  const ephemeral = (await c.kubectl(['get', 'pod', 'debug-target', '-o', 'jsonpath={.spec.ephemeralContainers[*].name}'])).stdout;
  step(`kubectl debug exit ${debug.code}; stored ephemeralContainers: [${ephemeral}]`);
  assert(ephemeral === 'dbg', `ephemeral container not stored: ${debug.stderr}`);

  await webhookRoundTrip(c);

  const helmVersion = (await c.helm(['version', '--short'])).stdout.trim();
  step(`helm ${helmVersion}`);
  const chartParent = mkdtempSync(join(tmpdir(), 'pullgate-smoke-chart-'));
  try {
    const chart = join(chartParent, 'smoke');
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n');
    writeFileSync(
      join(chart, 'templates', 'configmap.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  k: v\n',
    );
    await c.helm(['install', 'smoke', chart, '--namespace', 'default']);
    const cm = (await c.kubectl(['get', 'configmap', 'smoke-cm', '-o', 'jsonpath={.data.k}'])).stdout;
    assert(cm === 'v', 'helm release ConfigMap missing');
    step('helm install (kubeVersion-constrained chart) created its ConfigMap');
  } finally {
    rmSync(chartParent, { recursive: true, force: true });
  }
}

interface AdmissionRequest {
  uid: string;
  operation: string;
  subResource?: string;
  object: { spec: { ephemeralContainers?: unknown[] } };
}

// The path pullgate's e2e tests depend on: a mutating webhook at https://127.0.0.1:PORT (a
// certs.ts serving certificate, trusted through caBundle) called for controller-created Pods and
// for ephemeral containers (UPDATE pods/ephemeralcontainers), with its patches stored.
async function webhookRoundTrip(c: Cluster): Promise<void> {
  const ca = createCertificateAuthority('smoke-webhook-ca');
  const serving = issueServingCert(ca);
  const calls: string[] = [];
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const request = (JSON.parse(body) as { request: AdmissionRequest }).request;
      calls.push(`${request.operation} ${request.subResource ?? ''}`.trim());
      const ephemeral = request.object.spec.ephemeralContainers ?? [];
      const patch =
        request.subResource === 'ephemeralcontainers'
          ? [{ op: 'replace', path: `/spec/ephemeralContainers/${ephemeral.length - 1}/image`, value: 'proxy.example.com/busybox' }]
          : [{ op: 'add', path: '/metadata/annotations', value: { 'smoke/mutated': 'yes' } }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/mutate`;
    await c.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'smoke' },
        webhooks: [{
          name: 'pods.smoke.test',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
          clientConfig: { url, caBundle: Buffer.from(ca.certPem).toString('base64') },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] }],
        }],
      }),
    });
    // The API server picks up webhook configurations asynchronously: poll with fresh Pods.
    await c.kubectl(['create', 'deployment', 'hooked', '--image=registry.example.com/smoke:1', '--replicas=1']);
    await eventually('a webhook-mutated Pod from the ReplicaSet controller', async () => {
      const out = (await c.kubectl(['get', 'pods', '-l', 'app=hooked', '-o', 'jsonpath={.items[*].metadata.annotations.smoke/mutated}'])).stdout;
      if (out.includes('yes')) return true;
      if (out === '') return undefined;
      await c.kubectl(['delete', 'pods', '-l', 'app=hooked', '--wait=false']);
      return undefined;
    });
    await c.kubectl(['debug', 'debug-target', '--image=busybox', '-c', 'dbg2']);
    const images = (await c.kubectl(['get', 'pod', 'debug-target', '-o', 'jsonpath={.spec.ephemeralContainers[*].image}'])).stdout;
    assert(images.split(' ').at(-1) === 'proxy.example.com/busybox', `ephemeral image not mutated: ${images}`);
    assert(calls.includes('UPDATE ephemeralcontainers'), `webhook calls: ${calls.join(', ')}`);
    step(`webhook at ${url} mutated a Deployment's Pod and an ephemeral container (calls: ${[...new Set(calls)].join(', ')})`);
  } finally {
    await c.kubectl(['delete', 'mutatingwebhookconfiguration', 'smoke', '--ignore-not-found']);
    server.close();
  }
}

const binDir = await ensureBinaries();
step(`binaries in ${binDir}`);
const cluster = await startCluster({ binDir });
step(`cluster ready: ${JSON.stringify(cluster.timings)}`);
const pids = cluster.processes.map((p) => p.pid);
try {
  await checks(cluster);
} finally {
  const tStop = Date.now();
  await cluster.stop();
  step(`stopped in ${Date.now() - tStop}ms`);
}
const leftovers = pids.filter(groupAlive);
assert(leftovers.length === 0, `process groups still alive: ${leftovers.join(', ')}`);
step('no server process left: OK');
