// What doctor reads, against a stub API server: an installation without a Deployment to follow (the
// chart's default names are used), a webhook with a Service clientConfig (the serving certificate
// comes from the TLS Secret), and an API server that refuses some reads. The real API server, with a
// URL webhook and a Deployment to follow, is test/e2e/doctor.test.ts.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { evaluate } from '../../../src/doctor/evaluate.ts';
import { gatherFacts } from '../../../src/doctor/gather.ts';
import { renderJson } from '../../../src/doctor/render.ts';
import { derivedDockerConfigJsonBase64 } from '../../../src/k8s/pull-secret-manifest.ts';
import { AUTH, LICENSE_ID, tempDir, writeLicense } from '../helpers/fixtures.ts';
import { kubeStatus, startKubeStub, type KubeStub, type StubCall } from '../helpers/kube-stub.ts';
import { generateTls } from '../helpers/tls.ts';
import { CONFIG_YAML, liveWebhook, pki, REWRITTEN_PROBE } from './facts-fixture.ts';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });

const CREDENTIAL = derivedDockerConfigJsonBase64({ name: 'my-app-registry', proxyDomain: 'proxy.example.com', registryDomain: 'registry.example.com', licenseID: LICENSE_ID });

/** The API server's answers for what the stub does not store: Deployments, the ConfigMap, the webhook configuration, the dry run. */
function installationApi(call: StubCall) {
  const ok = (body: unknown) => ({ status: 200, body });
  if (call.path === '/apis/apps/v1/namespaces/pullgate/deployments') return ok({ apiVersion: 'apps/v1', kind: 'DeploymentList', metadata: {}, items: [] });
  if (call.path === '/api/v1/namespaces/pullgate/configmaps/pullgate-config') {
    return ok({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pullgate-config', namespace: 'pullgate' }, data: { 'config.yaml': CONFIG_YAML } });
  }
  if (call.path === '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/pullgate') return ok(liveWebhook());
  if (call.method === 'POST' && call.path === '/api/v1/namespaces/my-app/pods') {
    const pod = structuredClone(call.body) as { spec: { containers: { image: string }[]; imagePullSecrets?: { name: string }[] } };
    pod.spec.containers[0]!.image = REWRITTEN_PROBE;
    pod.spec.imagePullSecrets = [{ name: 'my-app-registry' }];
    return { status: 201, body: pod };
  }
  return undefined;
}

describe('gathering an installation', () => {
  let dir: ReturnType<typeof tempDir>;
  let stub: KubeStub;
  let kubeConfig: KubeConfig;
  let licenseFile: string;

  beforeAll(async () => {
    dir = tempDir();
    stub = await startKubeStub(generateTls(dir.path));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(stub.writeKubeconfig(join(dir.path, 'kubeconfig')));
    licenseFile = writeLicense(dir.path);
  });
  afterAll(async () => {
    await stub.close();
    dir.remove();
  });
  beforeEach(() => {
    stub.calls.length = 0;
    stub.secrets.clear();
    stub.namespaces.clear();
    stub.addNamespace('my-app');
    stub.addNamespace('pullgate');
    stub.secrets.set('pullgate/pullgate-tls', { type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pki().servingPem).toString('base64') } });
    stub.secrets.set('my-app/my-app-registry', { type: 'kubernetes.io/dockerconfigjson', metadata: { labels: { 'app.kubernetes.io/managed-by': 'pullgate' } }, data: { '.dockerconfigjson': CREDENTIAL } });
    stub.intercept = installationApi;
  });

  it("follows the chart's default names without a Deployment, and writes nothing", async () => {
    const { facts, read } = await gatherFacts({ kubeConfig, ownNamespace: 'pullgate', licenseFile });
    expect(read).toEqual([
      'no Deployment labelled app.kubernetes.io/name=pullgate in namespace pullgate',
      'configuration: ConfigMap pullgate/pullgate-config, key config.yaml',
      `license: file ${licenseFile}`,
      'MutatingWebhookConfiguration pullgate',
      'MutatingWebhookConfiguration pullgate-install (the install guard)',
      'serving certificate: Secret pullgate/pullgate-tls',
      'namespaces, and Secrets named my-app-registry in every namespace',
      expect.stringMatching(/^a server-side dry run of Pod my-app\/pullgate-doctor-probe-[0-9a-f]{8} \(nothing is stored\)$/),
    ]);
    expect(facts.servingCertificate.host).toBe('pullgate.pullgate.svc');
    const results = evaluate(facts);
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['configuration', 'ok'],
      ['license', 'ok'],
      ['webhook-configuration', 'ok'],
      ['install-guard', 'ok'],
      ['ca-bundle', 'ok'],
      ['serving-certificate', 'ok'],
      // monitoring is configured but does not exist.
      ['pull-secrets', 'warn'],
      ['probe', 'ok'],
    ]);
    const writes = stub.calls.filter((c) => c.method !== 'GET');
    expect(writes.map((c) => [c.method, c.path, c.query.dryRun])).toEqual([['POST', '/api/v1/namespaces/my-app/pods', 'All']]);
  });

  it('finds an install guard pullgate has not deleted: the one the Deployment names, else the chart\'s name for it', async () => {
    stub.webhookConfigurations.set('pullgate-install', { webhooks: [] });
    try {
      const { facts } = await gatherFacts({ kubeConfig, ownNamespace: 'pullgate', licenseFile });
      expect(facts.installGuard).toMatchObject({ name: 'pullgate-install', configured: false, live: { metadata: { name: 'pullgate-install' } } });
      expect(evaluate(facts).find((r) => r.id === 'install-guard')).toMatchObject({ status: 'warn', fix: expect.stringContaining('kubectl delete mutatingwebhookconfiguration pullgate-install') });

      const deployment = { metadata: { name: 'pullgate', namespace: 'pullgate' }, spec: { template: { spec: { containers: [{ name: 'pullgate', args: ['serve', '--install-guard', 'acme-guard'] }] } } } };
      stub.intercept = (call) =>
        call.path === '/apis/apps/v1/namespaces/pullgate/deployments' ? { status: 200, body: { apiVersion: 'apps/v1', kind: 'DeploymentList', metadata: {}, items: [deployment] } } : installationApi(call);
      const named = (await gatherFacts({ kubeConfig, ownNamespace: 'pullgate', licenseFile })).facts.installGuard;
      expect(named).toEqual({ name: 'acme-guard', configured: true, live: null });
    } finally {
      stub.webhookConfigurations.clear();
    }
  });

  it('names a pull secret that is stale, and reports refused reads without what the API server said', async () => {
    stub.secrets.set('my-app/my-app-registry', { type: 'kubernetes.io/dockerconfigjson', metadata: { labels: { 'app.kubernetes.io/managed-by': 'pullgate' } }, data: { '.dockerconfigjson': Buffer.from('{}').toString('base64') } });
    expect(evaluate((await gatherFacts({ kubeConfig, ownNamespace: 'pullgate', licenseFile })).facts).find((r) => r.id === 'pull-secrets')?.details).toEqual([
      'stale (not what the current license or credential gives) in: my-app',
      'configured namespaces that do not exist: monitoring',
    ]);

    stub.intercept = (call) =>
      call.path === '/api/v1/secrets' ? { status: 403, body: kubeStatus(403, 'Forbidden', `secrets is forbidden; ${LICENSE_ID}`) } : installationApi(call);
    const { facts } = await gatherFacts({ kubeConfig, ownNamespace: 'pullgate', licenseFile });
    const results = evaluate(facts);
    expect(results.find((r) => r.id === 'pull-secrets')).toMatchObject({ status: 'fail', details: ['listing Secrets named my-app-registry failed with HTTP 403 (Forbidden)'] });
    const json = renderJson(results, []);
    expect(json).not.toContain(LICENSE_ID);
    expect(json).not.toContain(AUTH);
  });
});
