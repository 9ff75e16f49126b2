// The first install of pullgate and the vendor's application in one `helm install`: the vendor's
// chart (test/fixtures/charts/acme-platform) with pullgate as a dependency, as published, with the
// chart's own webhook (match condition, failurePolicy Fail). The test control plane runs no
// kubelet, so pullgate's Pods never start: pullgate is started outside the cluster from the
// configuration the chart created, and the webhook is pointed at it (standing in for the Service
// gaining endpoints). Until then the application's Pods that need the proxy are refused and their
// controllers retry; pullgate's own Pods are created all along (no deadlock). Then every workload
// converges, rewritten. Pods created before the API server had the webhook (Helm creates it last)
// are admitted unrewritten; they are deleted, as the README says, and come back rewritten.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createCertificateAuthority, issueServingCert } from '../../src/tls/certificates.ts';
import { freePorts } from '../cluster/ports.ts';
import { eventually } from '../support/eventually.ts';
import { httpGet } from '../support/http-get.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { LICENSE_YAML, PROXY, REGISTRY, SECRET_NAME, proxied } from './support/scenario.ts';

const VENDOR_CHART = fileURLToPath(new URL('../fixtures/charts/acme-platform', import.meta.url));
const PULLGATE_CHART = fileURLToPath(new URL('../../deploy/helm/pullgate', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const RELEASE = `first-${suffix}`;
const APP_NS = `first-app-${suffix}`;
const PULLGATE_NS = `first-pullgate-${suffix}`;
const MWC = `${RELEASE}-pullgate`;

type Pod = { metadata: { name: string; uid: string; labels: Record<string, string> }; spec: { initContainers?: Array<{ image: string }>; containers: Array<{ image: string }>; imagePullSecrets?: Array<{ name: string }> } };

describe.skipIf(unavailable)('the first install of pullgate and the application in one Helm release', () => {
  let pullgate: PullgateInstance | undefined;
  afterAll(async () => {
    if (unavailable) return;
    const { client } = e2e();
    await client.helm(['uninstall', RELEASE, '--namespace', APP_NS], { allowFailure: true });
    await pullgate?.stop();
    await client.kubectl(['delete', 'namespace', APP_NS, PULLGATE_NS, '--wait=false', '--ignore-not-found']);
  });

  it("refuses the application's Pods until pullgate serves, creates pullgate's own, then converges every workload rewritten", async () => {
    const { client, env } = e2e();
    const [port] = (await freePorts(1)) as [number];
    const ca = createCertificateAuthority('first-install-ca');
    const serving = issueServingCert(ca, [], 'pullgate');
    const dir = mkdtempSync(join(tmpdir(), 'first-install-'));
    const certPath = join(dir, 'tls.crt');
    const keyPath = join(dir, 'tls.key');
    writeFileSync(certPath, serving.certPem);
    writeFileSync(keyPath, serving.keyPem, { mode: 0o600 });

    // The vendor's chart as published: pullgate a dependency, configured under its key.
    const chart = join(dir, 'acme-platform');
    cpSync(VENDOR_CHART, chart, { recursive: true });
    const chartYaml = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8'));
    writeFileSync(join(chart, 'Chart.yaml'), stringify({ ...chartYaml, dependencies: [{ name: 'pullgate', version: '0.1.0', repository: `file://${PULLGATE_CHART}` }] }));
    const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8'));
    writeFileSync(join(chart, 'values.yaml'), stringify({
      ...values,
      pullgate: {
        namespaceOverride: PULLGATE_NS,
        createNamespace: true,
        appSlug: 'my-app',
        proxyDomain: PROXY,
        registryDomain: REGISTRY,
        privateRegistries: ['quay.io/acme', 'docker.io/acme'],
        // The name the suite's RBAC lets the pullgate started below keep.
        pullSecret: { name: SECRET_NAME },
        namespaces: { applicationFromRelease: true, optInLabel: `first-install.example.com/serve=${suffix}` },
        license: { value: LICENSE_YAML },
        tls: { certManager: false, caBundle: Buffer.from(ca.certPem).toString('base64') },
      },
    }));
    await client.helm(['dependency', 'build', chart]);

    await client.helm(['install', RELEASE, chart, '--namespace', APP_NS, '--create-namespace']);
    const installed = Date.now();
    const webhook = await getJson(client, ['mutatingwebhookconfiguration', MWC]);
    expect(webhook.webhooks.map((h: { failurePolicy: string; matchConditions: unknown[] }) => [h.failurePolicy, h.matchConditions.length])).toEqual([['Fail', 1], ['Fail', 1]]);

    // pullgate's own Pods are created although its webhook cannot be called.
    await eventually("pullgate's own Pods", async () => (await getJson(client, ['pods', '-n', PULLGATE_NS])).items.length === 2 || undefined, 30_000);
    // Helm creates a MutatingWebhookConfiguration after every workload, and the API server picks it
    // up a moment later: Pods their controllers create at once may be admitted before that, and are
    // left unrewritten (README, "As a dependency of an application's chart"). Once it has the
    // webhook, every Pod that needs the proxy is refused until pullgate serves: one more web replica
    // is, and its ReplicaSet retries.
    await eventually('the webhook refusing a private Pod', async () => {
      const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: APP_NS }, spec: { containers: [{ name: 'c', image: 'quay.io/acme/probe:1' }] } };
      const { code, stderr } = await client.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(probe), allowFailure: true });
      return code !== 0 && stderr.includes('failed calling webhook "pods.pullgate.dev"');
    }, 30_000);
    const early = (await getJson<{ items: Pod[] }>(client, ['pods', '-n', APP_NS])).items;
    for (const pod of early) expect(pod.spec.imagePullSecrets, pod.metadata.name).toBeUndefined();
    await client.kubectl(['scale', 'deployment', `${RELEASE}-web`, '-n', APP_NS, '--replicas=3']);
    const refused = await eventually('the ReplicaSet refused a Pod', async () => {
      const sets = (await getJson(client, ['replicasets', '-n', APP_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items;
      const condition = sets[0]?.status?.conditions?.find((c: { type: string }) => c.type === 'ReplicaFailure');
      return condition?.reason === 'FailedCreate' ? condition.message as string : undefined;
    }, 60_000);
    expect(refused).toContain('failed calling webhook "pods.pullgate.dev"');
    const before = (await getJson<{ items: Pod[] }>(client, ['pods', '-n', APP_NS])).items;
    expect(before.map((p) => p.metadata.name).sort()).toEqual(early.map((p) => p.metadata.name).sort());
    console.log(`[figure] first install: ${early.length} of 4 application Pods admitted before the API server had the webhook`);

    // pullgate comes up, from the configuration the chart created, and the webhook reaches it.
    const configMap = await getJson(client, ['configmap', `${MWC}-config`, '-n', PULLGATE_NS]);
    const config = parse(configMap.data['config.yaml']);
    pullgate = await startPullgateInCluster(env.cluster!, client, {
      name: `first-install-${suffix}`,
      configYaml: (licensePath) => stringify({ ...config, license: { file: licensePath } }),
      extraArgs: ['--port', String(port), '--tls-cert-file', certPath, '--tls-key-file', keyPath],
      waitReady: false,
    });
    await eventually('pullgate /readyz', async () => (await httpGet(`https://127.0.0.1:${port}/readyz`, { ca: ca.certPem })).status === 200, { timeoutMs: 30_000, retryErrors: true, watch: [pullgate.process] });
    const patch = webhook.webhooks.map((_: unknown, i: number) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig`, value: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.certPem).toString('base64') } }));
    await client.kubectl(['patch', 'mutatingwebhookconfiguration', MWC, '--type=json', '-p', JSON.stringify(patch)]);
    const up = Date.now();
    // The remedy the README gives for Pods admitted before the webhook: delete them; their controllers create them again.
    if (early.length > 0) await client.kubectl(['delete', 'pod', '-n', APP_NS, '--wait=false', ...early.map((p) => p.metadata.name)]);

    const pods = await eventually('the 3 web, the worker and the migrate Pods, created once pullgate serves', async () => {
      const list = await getJson<{ items: Pod[] }>(client, ['pods', '-n', APP_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`]);
      // A StatefulSet's Pod comes back under its old name: told apart by uid.
      if (list.items.some((p) => early.some((e) => e.metadata.uid === p.metadata.uid))) return undefined;
      const components = list.items.map((p) => p.metadata.labels['app.kubernetes.io/component']).sort();
      return components.join() === 'migrate,web,web,web,worker' ? list.items : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    console.log(`[figure] first install: application Pods refused for ${Math.round((up - installed) / 1000)} s, all 5 present, rewritten, ${Date.now() - up} ms after pullgate served`);
    const byComponent = (c: string) => pods.filter((p) => p.metadata.labels['app.kubernetes.io/component'] === c);
    for (const web of byComponent('web')) {
      expect(web.spec.containers.map((c) => c.image)).toEqual([proxied('quay.io/acme/web:1.4.0'), 'prom/statsd-exporter:v0.26.0']);
      expect(web.spec.initContainers!.map((c) => c.image)).toEqual(['busybox:1.36']);
    }
    expect(byComponent('worker')[0]!.spec.containers[0]!.image).toBe(proxied('docker.io/acme/worker:1.4.0'));
    expect(byComponent('migrate')[0]!.spec.containers[0]!.image).toBe(proxied('quay.io/acme/migrate:1.4.0'));
    for (const pod of pods) expect(pod.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);
  }, 400_000);
});
