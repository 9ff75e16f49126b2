// The webhook's prefilter and failurePolicy Fail on the real API server, with a pullgate of its
// own on a fixed port so it can be stopped and started again behind the same webhook:
// - while it is stopped, Pods with only public images are created at once (the match condition
//   keeps them from pullgate, even at its worst-case cost), Pods in pullgate's own namespace and
//   kube-system too, and a Deployment whose Pods need the proxy gets them once it is back,
//   rewritten, through the ReplicaSet controller's retries;
// - the API server agrees with cel-match, which the prefilter proof (test/unit/prefilter) uses,
//   on which Pods reach pullgate, over a sample of the proof's references.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { mutatePod } from '../../src/admission/mutate-pod.ts';
import { validateConfig } from '../../src/config/schema.ts';
import { namespaceScope } from '../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../src/k8s/webhook-configuration.ts';
import { LONGEST_REFERENCE, prefilterInput, prefilterPattern, slotCap, webhookMatchConditions } from '../../src/k8s/webhook-match-conditions.ts';
import { createCertificateAuthority, issueServingCert } from '../../src/tls/certificates.ts';
import { celMatchUnavailable, evaluateMatchConditions } from '../cel/cel-match.ts';
import { freePorts } from '../cluster/ports.ts';
import { eventually } from '../support/eventually.ts';
import { httpGet } from '../support/http-get.ts';
import { proofReferences } from '../unit/prefilter/references.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { logEntries } from './support/pullgate-log.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { OWN_NAMESPACE, PROXY, REGISTRY, SECRET_NAME } from './support/scenario.ts';

const NS = 'prefilter-app';
const WEBHOOK = 'pullgate-prefilter';
const PRIVATE = 'quay.io/acme/web:1.0';
const PUBLIC = 'registry.k8s.io/pause:3.10';
const proxied = (image: string) => `${PROXY}/proxy/my-app/${image}`;
const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

const configYaml = (licensePath: string) => `proxyDomain: ${PROXY}
registryDomain: ${REGISTRY}
appSlug: my-app
license:
  file: ${licensePath}
privateRegistries: [quay.io/acme, docker.io/acme]
pullSecret:
  name: ${SECRET_NAME}
namespaces:
  application: ${NS}
  optInLabel: prefilter.pullgate.dev/inject=enabled
`;
const config = validateConfig(parse(configYaml('/unused')), undefined);
const conditions = webhookMatchConditions(prefilterInput(config));

const pod = (name: string, containers: { name: string; image: string }[], namespace = NS) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { automountServiceAccountToken: false, containers },
});
const containers = (images: string[]) => images.map((image, i) => ({ name: `c${i}`, image }));

describe.skipIf(unavailable || celMatchUnavailable)('the webhook prefilter with failurePolicy Fail', () => {
  let port: number;
  let tls: { certPath: string; keyPath: string; caPem: string };
  let pullgate: PullgateInstance | undefined;
  let starts = 0;

  async function startPullgate(): Promise<PullgateInstance> {
    const { client, env } = e2e();
    const instance = await startPullgateInCluster(env.cluster!, client, {
      name: `prefilter-${++starts}`,
      configYaml,
      // The port and certificate the webhook names, whichever start this is.
      extraArgs: ['--port', String(port), '--tls-cert-file', tls.certPath, '--tls-key-file', tls.keyPath],
      waitReady: false,
    });
    await eventually('pullgate /readyz', async () => (await httpGet(`https://127.0.0.1:${port}/readyz`, { ca: tls.caPem })).status === 200, { timeoutMs: 30_000, retryErrors: true, watch: [instance.process] });
    return instance;
  }

  /** `kubectl create`, its exit code, stderr and the elapsed milliseconds. */
  async function create(manifest: object): Promise<{ code: number | null; stderr: string; ms: number }> {
    const started = Date.now();
    const { code, stderr } = await e2e().client.kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest), allowFailure: true, timeoutMs: 90_000 });
    return { code, stderr, ms: Date.now() - started };
  }

  beforeAll(async () => {
    if (unavailable || celMatchUnavailable) return;
    const { client } = e2e();
    [port] = (await freePorts(1)) as [number];
    const dir = mkdtempSync(join(tmpdir(), 'prefilter-tls-'));
    const ca = createCertificateAuthority('prefilter-webhook-ca');
    const serving = issueServingCert(ca, [], 'pullgate');
    tls = { certPath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key'), caPem: ca.certPem };
    writeFileSync(tls.certPath, serving.certPem);
    writeFileSync(tls.keyPath, serving.keyPem, { mode: 0o600 });
    await client.kubectl(['create', 'namespace', NS]);
    const scope = namespaceScope(config.namespaces, OWN_NAMESPACE);
    const webhook = webhookConfiguration(scope, {
      name: WEBHOOK,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.certPem).toString('base64') },
      failurePolicy: 'Fail',
      matchConditions: conditions,
    });
    await client.kubectl(['apply', '-f', '-'], { input: stringify(webhook, { aliasDuplicateObjects: false }) });
    // Active once a Pod that needs pullgate is refused for want of it (the configuration is picked up asynchronously).
    await eventually('the webhook refusing a private Pod while pullgate is down', async () => {
      const { code, stderr } = await client.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod('probe', containers([PRIVATE]))), allowFailure: true });
      return code !== 0 && stderr.includes('failed calling webhook "pods.pullgate.dev"');
    }, 30_000);
  });

  afterAll(async () => {
    if (unavailable || celMatchUnavailable) return;
    const { client } = e2e();
    await client.kubectl(['delete', 'mutatingwebhookconfiguration', WEBHOOK, '--ignore-not-found']);
    await pullgate?.stop();
    await client.kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFailure: true });
    await client.kubectl(['delete', 'pod', 'prefilter-no-deadlock', '-n', 'kube-system', '--ignore-not-found', '--wait=false'], { allowFailure: true });
  });

  it('with pullgate stopped: creates public Pods at once, refuses private ones, and a Deployment needing the proxy gets its Pods, rewritten, once pullgate is back', async () => {
    const { client } = e2e();
    // Public images only, the cheapest and the most expensive Pod the condition looks at.
    const cap = slotCap(prefilterPattern(prefilterInput(config)));
    const longest = `registry.k8s.io/${'a'.repeat(LONGEST_REFERENCE - 'registry.k8s.io/'.length - 4)}:1.0`;
    for (const [name, images] of [['public', [PUBLIC, 'nginx:1.27', 'quay.io/acmecorp/web:1']], ['public-worst-case', Array(cap).fill(longest)]] as const) {
      const result = await create(pod(name, containers([...images])));
      expect(result, name).toMatchObject({ code: 0, stderr: '' });
      console.log(`[figure] pullgate stopped, Pod "${name}" (${images.length} public images) created in ${result.ms} ms`);
      const stored = await getJson(client, ['pod', name, '-n', NS]);
      expect(stored.spec.containers.map((c: { image: string }) => c.image)).toEqual(images);
    }
    // A private image waits for pullgate; so does a Pod too large to look at, and the refusal names the call, not the condition.
    for (const manifest of [pod('private', containers([PUBLIC, PRIVATE])), pod('wide', containers(Array(10_000).fill(PUBLIC)))]) {
      const refused = await create(manifest);
      expect(refused.code, manifest.metadata.name).not.toBe(0);
      expect(refused.stderr).toContain(`failed calling webhook "pods.pullgate.dev"`);
      expect(refused.stderr).not.toMatch(/match ?condition|cost/i);
    }
    // pullgate's own namespace and kube-system never wait on it: a restart cannot deadlock.
    for (const namespace of [OWN_NAMESPACE, 'kube-system']) {
      const name = namespace === OWN_NAMESPACE ? unique('prefilter-no-deadlock') : 'prefilter-no-deadlock';
      expect(await create(pod(name, containers([PRIVATE]), namespace)), namespace).toMatchObject({ code: 0 });
      await client.kubectl(['delete', 'pod', name, '-n', namespace, '--wait=false']);
    }

    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: PRIVATE }] } } },
    };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
    const failed = await eventually('the ReplicaSet to report FailedCreate', async () => {
      const sets = await getJson(client, ['replicasets', '-n', NS, '-l', 'app=web']);
      const condition = sets.items[0]?.status?.conditions?.find((c: { type: string }) => c.type === 'ReplicaFailure');
      return condition?.reason === 'FailedCreate' ? condition.message as string : undefined;
    }, 30_000);
    expect(failed).toContain(`failed calling webhook "pods.pullgate.dev"`);
    expect((await getJson(client, ['pods', '-n', NS, '-l', 'app=web'])).items).toEqual([]);

    pullgate = await startPullgate();
    const back = Date.now();
    const pods = await eventually('the Deployment\'s Pods, created once pullgate is back', async () => {
      const items = (await getJson(client, ['pods', '-n', NS, '-l', 'app=web'])).items;
      return items.length === 2 ? items : undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    console.log(`[figure] pullgate back → the Deployment's 2 Pods created: ${Date.now() - back} ms`);
    for (const p of pods) {
      expect(p.spec.containers[0].image).toBe(proxied(PRIVATE));
      expect(p.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);
    }
    // The Pod too large to look at is pullgate's to answer now: admitted, nothing to change.
    expect(await create(pod('wide', containers(Array(10_000).fill(PUBLIC))))).toMatchObject({ code: 0 });
  }, 300_000);

  it('sends pullgate exactly the Pods cel-match says, and every Pod pullgate changes comes back changed (server-side dry run, one image per Pod)', async () => {
    const { client } = e2e();
    expect(pullgate, 'pullgate started by the test before').toBeDefined();
    const policy = { rewrite: { proxyDomain: PROXY, appSlug: 'my-app', privateRegistries: config.privateRegistries }, registryDomain: REGISTRY, pullSecretName: SECRET_NAME };
    const changedBy = (image: string) => mutatePod(pod('x', [{ name: 'c', image }]), 'create', policy).patch.length > 0;
    // A sample of the proof's references: every 41st, and every 4th of those pullgate changes.
    let nthChanged = 0;
    const sample = proofReferences().filter((image, i) => i % 41 === 0 || (changedBy(image) && nthChanged++ % 4 === 0));
    const run = randomBytes(3).toString('hex');
    const pods = sample.map((image, i) => pod(`sample-${run}-${i}`, [{ name: 'c', image }]));
    const expected = await evaluateMatchConditions(conditions, pods);
    const changes = sample.map(changedBy);

    const list = { apiVersion: 'v1', kind: 'List', items: [...pods, pod(`sample-${run}-end`, [{ name: 'c', image: PRIVATE }])] };
    const out = await client.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(list), allowFailure: true, timeoutMs: 300_000 });
    // One pretty-printed object after another; only their opening braces start a line.
    const objects = out.stdout.split(/\n(?=\{)/).filter((o) => o.trim() !== '').map((o) => JSON.parse(o));
    const returned = new Map<string, any>(objects.map((p) => [p.metadata.name, p]));
    // Whatever the API server refused is refused by its validation, after admission: say which.
    const refused = pods.flatMap((p, i) => (returned.has(p.metadata.name) ? [] : [sample[i]]));
    // Every Pod reached admission: pullgate has logged the last one, so it has logged all it was sent.
    await eventually('pullgate to log the last Pod', () => logEntries(pullgate!.logPath).some((e) => e['msg'] === 'admission decided' && e['name'] === `sample-${run}-end`), 30_000);
    const called = new Set(logEntries(pullgate!.logPath).filter((e) => e['msg'] === 'admission decided').map((e) => e['name'] as string));

    const disagreements = pods.flatMap((p, i) => (called.has(p.metadata.name) === expected[i]!.matches ? [] : [`${sample[i]}: API server ${called.has(p.metadata.name) ? 'called' : 'skipped'} pullgate, cel-match says ${expected[i]!.matches}`]));
    expect(disagreements).toEqual([]);
    const unchanged = pods.flatMap((p, i) => {
      if (!changes[i]) return [];
      const back = returned.get(p.metadata.name);
      return back && back.spec.containers[0].image === p.spec.containers[0]!.image && !back.spec.imagePullSecrets ? [sample[i]] : [];
    });
    expect(unchanged).toEqual([]);
    const sent = pods.filter((p) => called.has(p.metadata.name)).length;
    console.log(`[figure] API server vs cel-match: ${sample.length} Pods, ${sent} sent to pullgate, ${changes.filter(Boolean).length} changed by it, 0 disagreements; ${refused.length} refused by validation after admission`);
    expect(changes.filter(Boolean).length).toBeGreaterThan(10);
  }, 300_000);
});
