// `pullgate doctor` against the real API server: an installation of its own (a pullgate started
// outside the cluster, its webhook registered with a URL, a Deployment object mounting its
// ConfigMap and license Secret as the chart does, scaled to zero), first healthy, then broken one
// way at a time. Each broken installation must be named for its fault, with a non-zero exit, and
// no output may hold the license ID or the credential.
// The installation serves a namespace of its own; its pullgate does not hold the shared Lease (the
// shared instance does), so no reconciler puts back a pull secret the test deletes.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHECK_IDS } from '../../src/doctor/check.ts';
import { derivedDockerConfigJsonBase64, pullSecretManifest } from '../../src/k8s/pull-secret-manifest.ts';
import { createCertificateAuthority } from '../../src/tls/certificates.ts';
import { eventually } from '../support/eventually.ts';
import { run } from '../support/run.ts';
import { authFor } from './support/pull-secrets.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { configYaml as scenarioConfigYaml, LICENSE_ID, LICENSE_YAML, OWN_NAMESPACE, PROXY, REGISTRY, SECRET_NAME } from './support/scenario.ts';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const APP = `doctor-app-${suffix}`;
const NAME = 'pullgate-doctor';
const OPT_IN = `pullgate-doctor.example.com/serve=${suffix}`;
const MOUNTED_LICENSE = '/etc/pullgate/license/license.yaml';
const CREDENTIAL = derivedDockerConfigJsonBase64({ name: SECRET_NAME, proxyDomain: PROXY, registryDomain: REGISTRY, licenseID: LICENSE_ID });
const EXPIRED_LICENSE = LICENSE_YAML.replace('value: ""', 'value: "2024-01-31T00:00:00Z"');

/** The suite's configuration, serving only this test's namespaces. */
const configYaml = (licenseFile: string) => scenarioConfigYaml(licenseFile).replace(/\nnamespaces:[\s\S]*$/, `\nnamespaces:\n  application: ${APP}\n  optInLabel: ${OPT_IN}\n`);

const labels = { 'app.kubernetes.io/name': 'pullgate', 'app.kubernetes.io/instance': `doctor-${suffix}` };
const licenseSecret = (license: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: `${NAME}-license`, namespace: OWN_NAMESPACE, labels },
  type: 'Opaque',
  stringData: { 'license.yaml': license },
});
/** pullgate's installation objects as the chart makes them; the Deployment has no replicas (pullgate runs outside). */
const installationObjects = () => [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${NAME}-config`, namespace: OWN_NAMESPACE, labels }, data: { 'config.yaml': configYaml(MOUNTED_LICENSE) } },
  licenseSecret(LICENSE_YAML),
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: NAME, namespace: OWN_NAMESPACE, labels },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, 'pullgate.dev/inject': 'disabled' } },
        spec: {
          containers: [
            {
              name: 'pullgate',
              image: 'pullgate:doctor-test',
              args: ['serve', '--config', '/etc/pullgate/config/config.yaml'],
              volumeMounts: [
                { name: 'config', mountPath: '/etc/pullgate/config', readOnly: true },
                { name: 'license', mountPath: '/etc/pullgate/license', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: `${NAME}-config` } },
            { name: 'license', secret: { secretName: `${NAME}-license` } },
          ],
        },
      },
    },
  },
];

interface Report {
  status: string;
  read: string[];
  checks: { id: string; status: string; summary: string; details: string[]; fix?: string }[];
}

describe.skipIf(unavailable)('pullgate doctor', () => {
  let instance: PullgateInstance;
  const outputs: string[] = [];

  const apply = (...objects: unknown[]) => e2e().client.kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
  const putPullSecret = () => apply(pullSecretManifest(SECRET_NAME, APP, CREDENTIAL));

  /** Runs doctor as the cluster admin; args after the kubeconfig and namespace. */
  async function doctor(args: string[] = []): Promise<{ code: number | null; report: Report; stdout: string }> {
    const result = await run(process.execPath, [MAIN, 'doctor', '--kubeconfig', e2e().env.cluster!.kubeconfigPath, '-n', OWN_NAMESPACE, '-o', 'json', ...args]);
    outputs.push(result.stdout, result.stderr);
    expect(result.stderr).toBe('');
    return { code: result.code, report: JSON.parse(result.stdout) as Report, stdout: result.stdout };
  }
  const check = (report: Report, id: string) => report.checks.find((c) => c.id === id)!;
  const failed = (report: Report) => report.checks.filter((c) => c.status === 'fail').map((c) => c.id);

  beforeAll(async () => {
    const { client, env } = e2e();
    await client.kubectl(['create', 'namespace', APP]);
    await putPullSecret();
    await apply(...installationObjects());
    instance = await startPullgateInCluster(env.cluster!, client, { name: 'doctor', registerWebhook: true, configYaml });
  });

  afterAll(async () => {
    const { client } = e2e();
    await instance?.stop();
    await client.kubectl(['delete', 'deployment,configmap,secret', '-n', OWN_NAMESPACE, '-l', `app.kubernetes.io/instance=doctor-${suffix}`, '--ignore-not-found'], { allowFailure: true });
    await client.kubectl(['delete', 'namespace', APP, '--wait=false', '--ignore-not-found'], { allowFailure: true });
  });

  it('finds nothing wrong with a healthy installation it reads from the cluster', async () => {
    const { code, report } = await doctor();
    expect(report.checks.map((c) => [c.id, c.status])).toEqual(CHECK_IDS.map((id) => [id, 'ok']));
    expect(code).toBe(0);
    expect(report.status).toBe('ok');
    expect(report.read).toEqual(
      expect.arrayContaining([
        `Deployment ${OWN_NAMESPACE}/${NAME}`,
        `configuration: ConfigMap ${OWN_NAMESPACE}/${NAME}-config, key config.yaml`,
        `license: Secret ${OWN_NAMESPACE}/${NAME}-license, key license.yaml`,
        `MutatingWebhookConfiguration ${NAME}`,
        `serving certificate: the TLS handshake with 127.0.0.1:${instance.port}`,
      ]),
    );
    expect(check(report, 'pull-secrets').summary).toBe(`pull secret ${SECRET_NAME} present and current in 1 namespace(s): ${APP}`);
    expect(check(report, 'probe').summary).toContain(`came back rewritten to ${PROXY}/proxy/my-app/quay.io/acme/pullgate-doctor-probe:1, with pull secret ${SECRET_NAME}`);
  });

  it('checks against files given instead, and speaks to a person', async () => {
    const result = await run(process.execPath, [MAIN, 'doctor', '--kubeconfig', e2e().env.cluster!.kubeconfigPath, '-n', OWN_NAMESPACE, '--config', instance.configPath, '--webhook', NAME]);
    outputs.push(result.stdout, result.stderr);
    expect(result.stdout).toContain(`configuration: file ${instance.configPath}`);
    expect(result.stdout).toContain('[ok  ] probe: ');
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('Everything checked is as it should be.');
    expect(result.code).toBe(0);

    // A configuration file naming the license where the Deployment mounts it: the license in force is read.
    const mountedConfig = join(e2e().env.cluster!.dir, `doctor-${suffix}.yaml`);
    writeFileSync(mountedConfig, configYaml(MOUNTED_LICENSE));
    const { code, report } = await doctor(['--config', mountedConfig]);
    expect(report.read).toContain(`license: Secret ${OWN_NAMESPACE}/${NAME}-license, key license.yaml`);
    expect(code).toBe(0);
  });

  it("names an expired license, and passes on pullgate's warning about it once pullgate has it too", async () => {
    await apply(licenseSecret(EXPIRED_LICENSE));
    try {
      const { code, report } = await doctor();
      expect(failed(report)).toEqual(['license']);
      expect(check(report, 'license').summary).toBe('license for ACME Customer expired at 2024-01-31T00:00:00.000Z');
      expect(check(report, 'license').fix).toContain(`Secret ${OWN_NAMESPACE}/${NAME}-license`);
      expect(code).toBe(1);

      // pullgate re-reads its license file; from then on, every admission carries its warning.
      writeFileSync(instance.licensePath, EXPIRED_LICENSE);
      const warned = await eventually('pullgate to warn about its expired license', async () => {
        const out = await doctor();
        return check(out.report, 'probe').status === 'warn' ? out.report : undefined;
      }, 60_000);
      expect(check(warned, 'probe').details).toEqual([expect.stringMatching(/^pullgate: the license for ACME Customer expired at 2024-01-31T00:00:00\.000Z/)]);
      expect(failed(warned)).toEqual(['license']);
    } finally {
      writeFileSync(instance.licensePath, LICENSE_YAML);
      await apply(licenseSecret(LICENSE_YAML));
      await eventually('pullgate to take the valid license back', async () => (check((await doctor()).report, 'probe').status === 'ok' ? true : undefined), 60_000);
    }
  });

  it('names the namespace whose pull secret is missing', async () => {
    await e2e().client.kubectl(['delete', 'secret', SECRET_NAME, '-n', APP]);
    try {
      const { code, report } = await doctor();
      expect(failed(report)).toEqual(['pull-secrets']);
      expect(check(report, 'pull-secrets').details).toEqual([`missing in: ${APP}`]);
      expect(code).toBe(1);
    } finally {
      await putPullSecret();
    }
  });

  it('names a caBundle that does not verify the serving certificate, and the failing calls', async () => {
    const { client } = e2e();
    const live = await getJson(client, ['mutatingwebhookconfiguration', NAME]);
    const patch = (caBundle: string) =>
      client.kubectl(['patch', 'mutatingwebhookconfiguration', NAME, '--type=json', '-p', JSON.stringify(live.webhooks.map((_: unknown, i: number) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle })))]);
    await patch(Buffer.from(createCertificateAuthority('not-pullgates-ca').certPem).toString('base64'));
    try {
      // caBundle is judged from the stored object at once; the probe once the API server has the change.
      const { code, report } = await eventually('the API server to use the wrong caBundle', async () => {
        const out = await doctor();
        return check(out.report, 'probe').status === 'fail' ? out : undefined;
      }, 60_000);
      expect(failed(report)).toEqual(['ca-bundle', 'probe']);
      expect(check(report, 'ca-bundle').details[0]).toMatch(/^webhook pods\.pullgate\.dev: caBundle \("not-pullgates-ca".*\) does not verify the serving certificate/);
      expect(check(report, 'probe').summary).toContain('the API server called the webhook');
      expect(check(report, 'probe').details.join('\n')).toMatch(/x509|certificate/);
      expect(code).toBe(1);
    } finally {
      await patch(live.webhooks[0].clientConfig.caBundle);
    }
  });

  it('names a webhook the API server does not call: selector not as configured, then no webhook configuration', async () => {
    const { client } = e2e();
    await client.kubectl(['patch', 'mutatingwebhookconfiguration', NAME, '--type=json', '-p',
      JSON.stringify([{ op: 'replace', path: '/webhooks/0/namespaceSelector/matchExpressions/0/values', value: ['somewhere-else'] }])]);
    const notCalled = (what: string) =>
      eventually(what, async () => {
        const out = await doctor();
        return check(out.report, 'probe').summary.includes('the webhook was not called') ? out : undefined;
      }, 60_000);
    const mismatch = await notCalled('the API server to stop calling the webhook');
    expect(failed(mismatch.report)).toEqual(['webhook-configuration', 'probe']);
    expect(check(mismatch.report, 'webhook-configuration').details).toEqual([expect.stringMatching(/^webhook pods\.pullgate\.dev: namespaceSelector is .*somewhere-else.*, the configuration gives .*doctor-app-/)]);
    expect(check(mismatch.report, 'probe').fix).toContain(`must select namespace ${APP}`);
    expect(mismatch.code).toBe(1);

    await client.kubectl(['delete', 'mutatingwebhookconfiguration', NAME]);
    const gone = await notCalled('the API server to drop the webhook');
    expect(check(gone.report, 'webhook-configuration').summary).toBe(`MutatingWebhookConfiguration ${NAME} does not exist: the API server sends no Pod to pullgate`);
    expect(failed(gone.report)).toEqual(['webhook-configuration', 'probe']);
    expect(check(gone.report, 'ca-bundle').status).toBe('warn');
    expect(gone.code).toBe(1);
  });

  it('never prints the license ID or the credential', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) {
      expect(out).not.toContain(LICENSE_ID);
      expect(out).not.toContain(authFor(LICENSE_ID));
      expect(out).not.toContain(CREDENTIAL);
    }
  });
});
