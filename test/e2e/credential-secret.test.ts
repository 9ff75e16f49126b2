// credentials.dockerConfigSecret: the pull secret's content copied as-is from an existing
// dockerconfigjson Secret in pullgate's own namespace (as a vendor's Helm install receives it in
// global.replicated.dockerconfigjson), into every namespace served, and followed when it changes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_LEASE_NAME, ownNamespaceRules } from '../../src/k8s/access-policy.ts';
import { eventually } from '../support/eventually.ts';
import { e2e, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { pullSecret } from './support/pull-secrets.ts';
import { configYaml, OWN_NAMESPACE, SECRET_NAME } from './support/scenario.ts';

// Its own namespace (own Lease, own credential Secret), so it leads its reconciler whatever the
// shared instance does, and an application namespace only it serves.
const HOME = `pullgate-copied-${randomBytes(2).toString('hex')}`;
const APP = `copied-app-${randomBytes(2).toString('hex')}`;
const SOURCE = 'vendor-pull';

const dockerConfig = (token: string) => Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: Buffer.from(`vendor:${token}`).toString('base64') }, 'registry.example.com': { username: 'vendor', password: token } } })).toString('base64');

describe.skipIf(unavailable)('a pull secret copied from credentials.dockerConfigSecret', () => {
  let instance: PullgateInstance | undefined;

  beforeAll(async () => {
    const { client, env } = e2e();
    await client.kubectl(['create', 'namespace', HOME]);
    await client.kubectl(['create', 'namespace', APP]);
    await client.kubectl(['apply', '-f', '-'], {
      input: stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SOURCE, namespace: HOME }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig('first-token') } }),
    });
    // The rights the shipped RBAC gives pullgate in its own namespace, rendered for this one: the
    // Lease, and reading the credential Secret by name.
    const rules = ownNamespaceRules({ namespace: HOME, serviceAccount: 'pullgate', pullSecretName: SECRET_NAME, leaseName: DEFAULT_LEASE_NAME, dockerConfigSecret: SOURCE });
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pullgate', namespace: HOME }, rules };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'pullgate', namespace: HOME },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pullgate' },
      subjects: [{ kind: 'ServiceAccount', name: 'pullgate', namespace: OWN_NAMESPACE }],
    };
    await client.kubectl(['apply', '-f', '-'], { input: `${stringify(role)}---\n${stringify(binding)}` });
    instance = await startPullgateInCluster(env.cluster!, client, {
      name: 'copied',
      configYaml: (license) =>
        `${configYaml(license).replace(/namespaces:[\s\S]*$/, `namespaces:\n  application: ${APP}\n  optInLabel: pullgate.dev/copied=yes\n`)}credentials:\n  dockerConfigSecret: ${SOURCE}\n`,
      extraArgs: ['--namespace', HOME],
    });
  }, 120_000);

  afterAll(async () => {
    await instance?.stop();
    const { client } = e2e();
    await client.kubectl(['delete', 'namespace', HOME, APP, '--wait=false'], { allowFailure: true });
  });

  it('copies the Secret as-is into the namespaces served, and follows it when it changes', async () => {
    const { client } = e2e();
    const copied = await eventually(`pull secret in ${APP}`, async () => (await pullSecret(client, APP)) ?? undefined, { timeoutMs: 30_000, watch: [instance!.process] });
    expect(copied.type).toBe('kubernetes.io/dockerconfigjson');
    expect(copied.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'pullgate' });
    expect(copied.data!['.dockerconfigjson']).toBe(dockerConfig('first-token'));

    const changed = Date.now();
    await client.kubectl(['patch', 'secret', SOURCE, '-n', HOME, '--type=merge', '-p', JSON.stringify({ data: { '.dockerconfigjson': dockerConfig('second-token') } })]);
    await eventually('the copy to follow the source', async () => (await pullSecret(client, APP))?.data?.['.dockerconfigjson'] === dockerConfig('second-token') || undefined, { timeoutMs: 15_000, watch: [instance!.process] });
    console.log(`[figure] credential Secret changed → copies updated: ${Date.now() - changed} ms`);
  });
});
