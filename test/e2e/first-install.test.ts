// The first install of pullgate and the vendor's application in one `helm install`: the vendor's
// chart (test/fixtures/charts/acme-platform) with pullgate as a dependency, as published, with the
// chart's own webhook (match condition, failurePolicy Fail) and self-managed TLS. Helm creates the
// chart's install guard (a hook) before anything else and the webhook configuration after every
// workload; the guard refuses the application's Pods from the first one on. The test control plane
// runs no kubelet, so pullgate's Pods never start: pullgate is started outside the cluster as the
// chart's ServiceAccount, with the chart's arguments, and the webhook is pointed at it (standing in
// for the Service gaining endpoints). It sets its CA in the webhook's caBundle, then deletes the
// guard. A watch started before `helm install` sees every Pod the API server ever stored in the
// application's namespace: not one unrewritten, and no Pod deleted by hand.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePorts } from '../cluster/ports.ts';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { logEntries } from './support/pullgate-log.ts';
import { LICENSE_YAML, PROXY, REGISTRY, SECRET_NAME, proxied } from './support/scenario.ts';

const VENDOR_CHART = fileURLToPath(new URL('../fixtures/charts/acme-platform', import.meta.url));
const PULLGATE_CHART = fileURLToPath(new URL('../../deploy/helm/pullgate', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const RELEASE = `first-${suffix}`;
const APP_NS = `first-app-${suffix}`;
const PULLGATE_NS = `first-pullgate-${suffix}`;
const MWC = `${RELEASE}-pullgate`;
const GUARD = `${MWC}-install`;
/** The release's cluster-scoped kinds: none may outlive `helm uninstall` once pullgate served. */
const CLUSTER_SCOPED = 'mutatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,clusterroles,clusterrolebindings';

type Container = { name: string; image: string };
type Pod = {
  metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { initContainers?: Container[]; containers: Container[]; imagePullSecrets?: Array<{ name: string }> };
};

const images = (pod: Pod) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.image);
/** An image under the chart's private registries (quay.io/acme, docker.io/acme) that was not rewritten. */
const unrewritten = (image: string) => /^(?:(?:docker\.io\/)?acme\/|quay\.io\/acme\/)/.test(image);

describe.skipIf(unavailable)('the first install of pullgate and the application in one Helm release', () => {
  let pullgate: PullgateInstance | undefined;
  let stopWatch: AbortController | undefined;
  let installed = false;
  afterAll(async () => {
    if (unavailable) return;
    const { client } = e2e();
    stopWatch?.abort();
    if (installed) await client.helm(['uninstall', RELEASE, '--namespace', APP_NS], { allowFailure: true });
    await pullgate?.stop();
    await client.kubectl(['delete', 'mutatingwebhookconfiguration', GUARD, '--ignore-not-found']);
    await client.kubectl(['delete', 'namespace', APP_NS, PULLGATE_NS, '--wait=false', '--ignore-not-found']);
  });

  it("admits no application Pod unrewritten: refused until pullgate serves and deletes the install guard, then every workload converges rewritten", async () => {
    const { client, env } = e2e();
    const [port] = (await freePorts(1)) as [number];
    const dir = mkdtempSync(join(tmpdir(), 'first-install-'));

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
        pullSecret: { name: SECRET_NAME },
        namespaces: { applicationFromRelease: true, optInLabel: `first-install.example.com/serve=${suffix}` },
        license: { value: LICENSE_YAML },
      },
    }));
    await client.helm(['dependency', 'build', chart]);

    // Every Pod object the API server stores in the application's namespace, from before the install on.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(env.cluster!.kubeconfigPath);
    const stored: Pod[] = [];
    let watchEnded: string | undefined;
    stopWatch = await new Watch(kubeConfig).watch(
      `/api/v1/namespaces/${APP_NS}/pods`,
      {},
      (type, pod: Pod) => {
        if (type === 'ADDED' || type === 'MODIFIED') stored.push(pod);
      },
      (err: unknown) => {
        watchEnded ??= err instanceof Error ? err.message : 'ended';
      },
    );

    await client.helm(['install', RELEASE, chart, '--namespace', APP_NS, '--create-namespace']);
    installed = true;
    const installedAt = Date.now();
    const guard = await getJson(client, ['mutatingwebhookconfiguration', GUARD]);
    expect(guard.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(guard.webhooks.map((h: { failurePolicy: string }) => h.failurePolicy)).toEqual(['Fail', 'Fail']);
    const webhook = await getJson(client, ['mutatingwebhookconfiguration', MWC]);
    expect(webhook.webhooks.map((h: { failurePolicy: string; matchConditions: unknown[]; clientConfig: { caBundle?: string } }) => [h.failurePolicy, h.matchConditions.length, h.clientConfig.caBundle])).toEqual([['Fail', 1, undefined], ['Fail', 1, undefined]]);

    // pullgate's own Pods are created although nothing serves either configuration (no deadlock);
    // the application's are refused, and their controllers retry.
    await eventually("pullgate's own Pods", async () => (await getJson(client, ['pods', '-n', PULLGATE_NS])).items.length === 2 || undefined, 30_000);
    const refused = await eventually('the ReplicaSet refused a Pod', async () => {
      const sets = (await getJson(client, ['replicasets', '-n', APP_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items;
      const condition = sets[0]?.status?.conditions?.find((c: { type: string }) => c.type === 'ReplicaFailure');
      return condition?.reason === 'FailedCreate' ? condition.message as string : undefined;
    }, 60_000);
    expect(refused).toContain('failed calling webhook "pods.pullgate.dev"');
    expect(stored).toEqual([]);
    expect((await getJson(client, ['mutatingwebhookconfiguration', GUARD])).metadata.uid).toBe(guard.metadata.uid);

    // The webhook reaches where pullgate will listen, with no caBundle yet: pullgate sets it.
    const patch = webhook.webhooks.map((_: unknown, i: number) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig`, value: { url: `https://127.0.0.1:${port}/mutate` } }));
    await client.kubectl(['patch', 'mutatingwebhookconfiguration', MWC, '--type=json', '-p', JSON.stringify(patch)]);

    // pullgate comes up as the chart's ServiceAccount, from the configuration the chart created, with the chart's flags.
    const configMap = await getJson(client, ['configmap', `${MWC}-config`, '-n', PULLGATE_NS]);
    const config = parse(configMap.data['config.yaml']);
    const args: string[] = (await getJson(client, ['deployment', MWC, '-n', PULLGATE_NS])).spec.template.spec.containers[0].args;
    const flag = (name: string) => args[args.indexOf(name) + 1]!;
    expect(flag('--install-guard')).toBe(GUARD);
    pullgate = await startPullgateInCluster(env.cluster!, client, {
      name: `first-install-${suffix}`,
      identity: { namespace: PULLGATE_NS, serviceAccount: MWC },
      selfManagedTls: { caSecret: flag('--tls-ca-secret'), webhookConfiguration: flag('--webhook-configuration') },
      configYaml: (licensePath) => stringify({ ...config, license: { file: licensePath } }),
      extraArgs: ['--port', String(port), '--install-guard', GUARD],
    });
    const logPath = pullgate.logPath;
    await eventually('the install guard deleted', async () => (await client.kubectl(['get', 'mutatingwebhookconfiguration', GUARD, '--ignore-not-found', '-o', 'name'])).stdout.trim() === '', { timeoutMs: 60_000, watch: [pullgate.process] });
    const up = Date.now();
    const messages = logEntries(logPath).map((e) => e['msg']);
    // The CA was in the webhook before the guard went.
    expect(messages.indexOf('caBundle set on the webhook configuration')).toBeGreaterThanOrEqual(0);
    expect(messages.indexOf('install guard deleted: pullgate serves, Pods that need it reach it now')).toBeGreaterThan(messages.indexOf('caBundle set on the webhook configuration'));

    const pods = await eventually('the 2 web, the worker and the migrate Pods, created once pullgate serves', async () => {
      const list = await getJson<{ items: Pod[] }>(client, ['pods', '-n', APP_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`]);
      const components = list.items.map((p) => p.metadata.labels?.['app.kubernetes.io/component']).sort();
      return components.join() === 'migrate,web,web,worker' ? list.items : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    console.log(`[figure] first install: application Pods refused for ${Math.round((up - installedAt) / 1000)} s (until pullgate served), all 4 present, rewritten, ${Date.now() - up} ms after the install guard was deleted`);
    const byComponent = (c: string) => pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c);
    for (const web of byComponent('web')) {
      expect(web.spec.containers.map((c) => c.image)).toEqual([proxied('quay.io/acme/web:1.4.0'), 'prom/statsd-exporter:v0.26.0']);
      expect(web.spec.initContainers!.map((c) => c.image)).toEqual(['busybox:1.36']);
    }
    expect(byComponent('worker')[0]!.spec.containers[0]!.image).toBe(proxied('docker.io/acme/worker:1.4.0'));
    expect(byComponent('migrate')[0]!.spec.containers[0]!.image).toBe(proxied('quay.io/acme/migrate:1.4.0'));
    for (const pod of pods) expect(pod.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);

    // Every Pod object ever stored there, every version of it, rewritten: not one admitted before pullgate served.
    await eventually('the watch saw the Pods listed', () => pods.every((p) => stored.some((s) => s.metadata.uid === p.metadata.uid)), 30_000);
    expect(watchEnded).toBeUndefined();
    const uids = new Set(stored.map((p) => p.metadata.uid));
    expect(uids.size).toBe(4);
    for (const pod of stored) {
      expect(images(pod).filter(unrewritten), pod.metadata.name).toEqual([]);
      expect(pod.spec.imagePullSecrets, pod.metadata.name).toEqual([{ name: SECRET_NAME }]);
      expect(pod.metadata.annotations?.['pullgate.dev/original-images'], pod.metadata.name).toBeDefined();
    }
    console.log(`[figure] first install: ${uids.size} application Pods stored (${stored.length} versions seen), 0 unrewritten`);

    // pullgate served, so the guard is gone: helm uninstall leaves no cluster-scoped object behind.
    await client.helm(['uninstall', RELEASE, '--namespace', APP_NS, '--wait']);
    installed = false;
    const left = await client.kubectl(['get', CLUSTER_SCOPED, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
    expect(left.stdout.trim()).toBe('');
  }, 400_000);
});
