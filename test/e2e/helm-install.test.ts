// `helm install` of deploy/helm/pullgate on the real API server: every object passes its
// validation and is stored, the RBAC gives the release's ServiceAccount exactly the intended
// rights, its write guard holds that ServiceAccount (not the shared one) to its pull secret, and
// `helm uninstall` leaves no cluster-scoped object behind once the install guard is gone (a hook
// Helm never deletes; pullgate deletes it when it first serves, which its ServiceAccount does here),
// and an upgrade renders that guard again only while the webhook configuration does not exist.
// The release has its own name and namespace, so nothing clashes with the suite's shared pullgate
// (RBAC pullgate, write guard pullgate-write-guard). No cert-manager is needed: the release uses
// the default self-managed TLS. Its webhook serves only a namespace that is never created and a
// label no namespace carries, so the API server never calls it.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { ClusterClient, RunResult } from '../cluster/client.ts';
import { eventually } from '../support/eventually.ts';
import { expand, rightsBeyondBaseline } from './support/can-i.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { LICENSE_YAML } from './support/scenario.ts';

const CHART = fileURLToPath(new URL('../../deploy/helm/pullgate', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const RELEASE = `pg-${suffix}`;
const NAMESPACE = `pullgate-helm-${suffix}`;
/** Every object of the release is named so. */
const NAME = `${RELEASE}-pullgate`;
const GUARD = `${NAME}-install`;
const PULL_SECRET = `acme-${suffix}-pull`;
const CREDENTIAL_SECRET = `${NAME}-dockerconfig`;
const USER = `system:serviceaccount:${NAMESPACE}:${NAME}`;
const NOBODY = `system:serviceaccount:${NAMESPACE}:nobody-${suffix}`;
const POLICY = `ValidatingAdmissionPolicy '${NAME}-write-guard'`;
const DOCKER_CONFIG = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: Buffer.from('LICENSE_ID:helm-e2e').toString('base64') } } })).toString('base64');

const VALUES = {
  appSlug: 'acme',
  proxyDomain: 'proxy.example.com',
  privateRegistries: ['quay.io/acme'],
  pullSecret: { name: PULL_SECRET },
  namespaces: { application: `helm-app-${suffix}`, optInLabel: `pullgate-helm.example.com/serve=${suffix}` },
  license: { value: LICENSE_YAML },
  global: { replicated: { dockerconfigjson: DOCKER_CONFIG } },
  networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
};

const CLUSTER_WIDE = [
  ...expand('namespaces', [], ['get', 'list', 'watch']),
  ...expand('secrets', [], ['create']),
  ...expand('secrets', [PULL_SECRET], ['get', 'list', 'watch', 'update', 'delete']),
  ...expand('mutatingwebhookconfigurations.admissionregistration.k8s.io', [NAME], ['list', 'watch', 'update']),
  // The install guard: deleted once pullgate serves.
  ...expand('mutatingwebhookconfigurations.admissionregistration.k8s.io', [GUARD], ['delete']),
];
const OWN_NAMESPACE_ONLY = [
  ...expand('leases.coordination.k8s.io', [], ['create']),
  ...expand('leases.coordination.k8s.io', ['pullgate-leader'], ['get', 'update']),
  ...expand('secrets', [CREDENTIAL_SECRET], ['get', 'list', 'watch']),
  ...expand('secrets', [`${NAME}-ca`], ['get']),
];

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
/** `kind.group/name`, as kubectl names a resource. */
const resourceName = (m: Manifest) => `${m.kind.toLowerCase()}${m.apiVersion.includes('/') ? `.${m.apiVersion.split('/')[0]}` : ''}/${m.metadata.name}`;

const secret = (name: string, namespace: string, labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'pullgate' }) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': DOCKER_CONFIG } });

/** The chart's appVersion, which its notes name. */
const CHART_APP_VERSION = (parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;

describe.skipIf(unavailable)('helm install of deploy/helm/pullgate', () => {
  let client: ClusterClient;
  let manifests: Manifest[] = [];
  let installed = false;
  let notes = '';
  let other: string;

  beforeAll(async () => {
    client = e2e().client;
    const values = join(e2e().env.cluster!.dir, `helm-install-${suffix}.yaml`);
    writeFileSync(values, JSON.stringify(VALUES), { mode: 0o600 });
    notes = (await client.helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--create-namespace', '--values', values])).stdout;
    installed = true;
    const manifest = (await client.helm(['get', 'manifest', RELEASE, '--namespace', NAMESPACE])).stdout;
    manifests = parseAllDocuments(manifest).map((d) => d.toJS() as Manifest).filter((m) => m !== null);
    other = `helm-other-${suffix}`;
    await client.kubectl(['create', 'namespace', other]);
  });

  afterAll(async () => {
    if (installed) await client.helm(['uninstall', RELEASE, '--namespace', NAMESPACE], { allowFailure: true });
    await client.kubectl(['delete', 'namespace', NAMESPACE, other, '--wait=false', '--ignore-not-found'], { allowFailure: true });
  });

  it('tells in its notes where pullgate runs, what it serves, and how to check it', () => {
    expect(notes).toContain(`pullgate ${CHART_APP_VERSION} is installed in namespace ${NAMESPACE}`);
    expect(notes).toContain('failurePolicy Fail');
    expect(notes).toContain(`pullgate doctor -n ${NAMESPACE}`);
  });

  it('stores every object of the release, validated by the API server', async () => {
    expect(manifests.map(resourceName).sort()).toEqual([
      `clusterrole.rbac.authorization.k8s.io/${NAME}`,
      `clusterrolebinding.rbac.authorization.k8s.io/${NAME}`,
      `configmap/${NAME}-config`,
      `deployment.apps/${NAME}`,
      `mutatingwebhookconfiguration.admissionregistration.k8s.io/${NAME}`,
      `networkpolicy.networking.k8s.io/${NAME}`,
      `poddisruptionbudget.policy/${NAME}`,
      `role.rbac.authorization.k8s.io/${NAME}`,
      `rolebinding.rbac.authorization.k8s.io/${NAME}`,
      `secret/${CREDENTIAL_SECRET}`,
      `secret/${NAME}-license`,
      `service/${NAME}`,
      `serviceaccount/${NAME}`,
      `validatingadmissionpolicy.admissionregistration.k8s.io/${NAME}-write-guard`,
      `validatingadmissionpolicybinding.admissionregistration.k8s.io/${NAME}-write-guard`,
    ]);
    for (const m of manifests) {
      const stored = await getJson(client, [resourceName(m), ...(m.metadata.namespace ? ['-n', m.metadata.namespace] : [])]);
      expect(stored.metadata.namespace, resourceName(m)).toBe(m.metadata.namespace);
      if (m.metadata.namespace !== undefined) expect(m.metadata.namespace, resourceName(m)).toBe(NAMESPACE);
    }
    const credential = await getJson(client, ['secret', CREDENTIAL_SECRET, '-n', NAMESPACE]);
    expect(credential.type).toBe('kubernetes.io/dockerconfigjson');
    const deployment = await getJson(client, ['deployment', NAME, '-n', NAMESPACE]);
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(NAME);
  });

  it("gives the release's ServiceAccount exactly the intended rights, in an application namespace, in kube-system and in its own", async () => {
    for (const [namespace, expected] of [
      [other, CLUSTER_WIDE],
      ['kube-system', CLUSTER_WIDE],
      [NAMESPACE, [...CLUSTER_WIDE, ...OWN_NAMESPACE_ONLY]],
    ] as const) {
      expect(await rightsBeyondBaseline(client, USER, NOBODY, namespace), namespace).toEqual([...expected].sort());
    }
  });

  it("holds the release's ServiceAccount, by its own write guard, to its own pull secret", async () => {
    const kubeconfig = await client.serviceAccountKubeconfig(NAMESPACE, NAME);
    const asRelease = (args: string[], input: string): Promise<RunResult> => client.kubectl(args, { kubeconfig, allowFailure: true, input });
    // The API server enforces a new policy once its informer has it.
    const refused = await eventually(
      'the release\'s write guard to be in effect',
      async () => {
        const out = await asRelease(['create', '--dry-run=server', '-f', '-'], secret('not-the-pull-secret', other));
        return out.stderr.includes(POLICY) ? out : undefined;
      },
      60_000,
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`may only write the Secret named ${PULL_SECRET}`);
    expect(refused.stderr).not.toContain(DOCKER_CONFIG);

    const inOwnNamespace = await asRelease(['create', '--dry-run=server', '-f', '-'], secret(PULL_SECRET, NAMESPACE));
    expect(inOwnNamespace.stderr).toContain(POLICY);
    // In its own namespace only the CA Secret of self-managed TLS.
    expect(inOwnNamespace.stderr).toContain(`pullgate may only write the Secret named ${NAME}-ca, not "${PULL_SECRET}"`);

    const allowed = await asRelease(['create', '--dry-run=server', '-f', '-'], secret(PULL_SECRET, other));
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
  });

  it("creates the install guard as a hook, which the release's ServiceAccount may delete, and no other webhook configuration", async () => {
    const hooks = parseAllDocuments((await client.helm(['get', 'hooks', RELEASE, '--namespace', NAMESPACE])).stdout).map((d) => d.toJS() as Manifest).filter((m) => m !== null);
    expect(hooks.map(resourceName)).toEqual([`mutatingwebhookconfiguration.admissionregistration.k8s.io/${GUARD}`]);
    const guard = await getJson(client, ['mutatingwebhookconfiguration', GUARD]);
    expect(guard.webhooks.map((w: { name: string; failurePolicy: string }) => [w.name, w.failurePolicy])).toEqual([['pods.pullgate.dev', 'Fail'], ['opt-in.pods.pullgate.dev', 'Fail']]);
    const kubeconfig = await client.serviceAccountKubeconfig(NAMESPACE, NAME);
    const refused = await client.kubectl(['delete', 'mutatingwebhookconfiguration', NAME, '--dry-run=server'], { kubeconfig, allowFailure: true });
    expect(refused.stderr).toContain('forbidden');
    // What pullgate does once it serves (the test control plane runs no Pods).
    await client.kubectl(['delete', 'mutatingwebhookconfiguration', GUARD], { kubeconfig });
  });

  it('on upgrade, renders the guard only while the webhook configuration does not exist (pullgate added to a release)', async () => {
    const upgrade = () => client.helm(['upgrade', RELEASE, CHART, '--namespace', NAMESPACE, '--reuse-values']);
    const guardExists = async () => (await client.kubectl(['get', 'mutatingwebhookconfiguration', GUARD, '--ignore-not-found', '-o', 'name'])).stdout.trim() !== '';
    await upgrade();
    expect(await guardExists()).toBe(false);
    expect((await client.helm(['get', 'hooks', RELEASE, '--namespace', NAMESPACE])).stdout.trim()).toBe('');

    await client.kubectl(['delete', 'mutatingwebhookconfiguration', NAME]);
    await upgrade();
    expect(await guardExists()).toBe(true);
    expect((await getJson(client, ['mutatingwebhookconfiguration', NAME])).webhooks).toHaveLength(2);
    await client.kubectl(['delete', 'mutatingwebhookconfiguration', GUARD], { kubeconfig: await client.serviceAccountKubeconfig(NAMESPACE, NAME) });
  });

  it('leaves no cluster-scoped object behind on helm uninstall', async () => {
    const clusterScoped = [...manifests.filter((m) => m.metadata.namespace === undefined).map(resourceName), `mutatingwebhookconfiguration.admissionregistration.k8s.io/${GUARD}`];
    expect(clusterScoped.length).toBe(6);
    await client.helm(['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait']);
    installed = false;
    for (const name of clusterScoped) {
      const out = await client.kubectl(['get', name, '--ignore-not-found', '-o', 'name']);
      expect(out.stdout.trim(), name).toBe('');
    }
  });
});
