import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { checkConfig, type PullgateConfig } from '../../../src/config.ts';
import { DEPLOY_NAMESPACE, deployAccessSettings, readDeployConfig, renderDeploy } from '../../../scripts/render-deploy.ts';

// deploy/ is generated from, or must agree with, the example configuration it ships.
const path = (file: string) => fileURLToPath(new URL(`../../../deploy/${file}`, import.meta.url));
const read = (file: string) => readFileSync(path(file), 'utf8');
const docs = (file: string) => parseAllDocuments(read(file)).map((d) => d.toJS() as any);
const config = readDeployConfig(path('config.yaml'));

function configWith(changes: Record<string, unknown>): PullgateConfig {
  const raw = { ...parse(parse(read('config.yaml')).data['config.yaml']), ...changes };
  const checked = checkConfig(raw);
  if (!checked.ok) throw new Error(checked.problems.join('; '));
  return checked.config;
}

describe('deploy/', () => {
  it('ships a valid example configuration', () => {
    expect(checkConfig(parse(parse(read('config.yaml')).data['config.yaml'])).problems).toEqual([]);
  });

  it('holds exactly what scripts/render-deploy.ts renders from that configuration (npm run render-deploy)', () => {
    const rendered = renderDeploy(config);
    expect(Object.keys(rendered).sort()).toEqual(['rbac.yaml', 'webhook.yaml', 'write-guard.yaml']);
    for (const [file, content] of Object.entries(rendered)) expect(read(file), `deploy/${file} is stale: npm run render-deploy`).toBe(content);
  });

  it('grants pullgate exactly: namespaces to read, secrets to create, the pull secret by name, its lease — nothing more', () => {
    const rbac = docs('rbac.yaml');
    expect(rbac.map((d) => d.kind)).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    expect(rbac.find((d) => d.kind === 'ClusterRole').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['my-app-registry'], verbs: ['get', 'list', 'watch', 'update', 'delete'] },
    ]);
    const role = rbac.find((d) => d.kind === 'Role');
    expect(role.metadata.namespace).toBe(DEPLOY_NAMESPACE);
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pullgate-leader'], verbs: ['get', 'update'] },
    ]);
    for (const binding of rbac.filter((d) => d.kind.endsWith('Binding'))) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'pullgate', namespace: DEPLOY_NAMESPACE }]);
      expect(rbac.find((d) => d.kind === binding.roleRef.kind).metadata.name).toBe(binding.roleRef.name);
    }
  });

  it('names the pull secret configured, defaulted from appSlug, and reads the credential source only when one is configured', () => {
    const named = (c: PullgateConfig) => deployAccessSettings(c).pullSecretName;
    expect(named(configWith({ pullSecret: { name: 'other-registry' } }))).toBe('other-registry');
    expect(named(configWith({ pullSecret: undefined, appSlug: 'acme' }))).toBe('acme-registry');
    expect(() => renderDeploy(configWith({ pullSecret: undefined, appSlug: undefined }))).toThrow(/set pullSecret.name/);

    const withSource = parseAllDocuments(renderDeploy(configWith({ credentials: { dockerConfigSecret: 'vendor-pull' } }))['rbac.yaml']!).map((d) => d.toJS() as any);
    expect(withSource.find((d) => d.kind === 'Role').rules.at(-1)).toEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['vendor-pull'], verbs: ['get', 'list', 'watch'] });
    // Cluster-wide rights do not change with it.
    expect(withSource.find((d) => d.kind === 'ClusterRole')).toEqual(docs('rbac.yaml').find((d) => d.kind === 'ClusterRole'));
  });

  it('guards every Secret write of pullgate\'s ServiceAccount, denying, and failing closed', () => {
    const [policy, binding] = docs('write-guard.yaml');
    expect(policy.kind).toBe('ValidatingAdmissionPolicy');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] }]);
    expect(policy.spec.matchConditions).toEqual([{ name: 'pullgate-service-account', expression: "request.userInfo.username == 'system:serviceaccount:pullgate:pullgate'" }]);
    expect(binding).toMatchObject({ kind: 'ValidatingAdmissionPolicyBinding', spec: { policyName: policy.metadata.name, validationActions: ['Deny'] } });
    expect(binding.spec.matchResources).toBeUndefined();
    const expressions = policy.spec.validations.map((v: any) => v.expression).join('\n');
    for (const fact of ["'kube-system', 'pullgate'", "'my-app-registry'", "'kubernetes.io/dockerconfigjson'", "object.metadata.labels['app.kubernetes.io/managed-by'] == 'pullgate'", "oldObject.metadata.labels['app.kubernetes.io/managed-by'] == 'pullgate'"]) {
      expect(expressions).toContain(fact);
    }
    for (const validation of policy.spec.validations) {
      expect(validation.reason).toBe('Forbidden');
      expect(validation.message).toMatch(/^pullgate may /);
      // A message may name the Secret, never show what it holds.
      expect(`${validation.message} ${validation.messageExpression ?? ''}`).not.toMatch(/\.data\b|stringData/);
    }
  });

  it('runs the Deployment under the ServiceAccount the RBAC binds and the write guard names, in the namespace the webhook excludes', () => {
    const deployment = docs('deployment.yaml').find((d) => d.kind === 'Deployment');
    const { namespace } = deployment.metadata;
    const serviceAccount = deployment.spec.template.spec.serviceAccountName;
    expect(docs('rbac.yaml').find((d) => d.kind === 'ServiceAccount').metadata).toMatchObject({ name: serviceAccount, namespace });
    expect(docs('write-guard.yaml')[0].spec.matchConditions[0].expression).toContain(`'system:serviceaccount:${namespace}:${serviceAccount}'`);
    const webhook = parse(read('webhook.yaml'));
    for (const hook of webhook.webhooks) {
      const names = hook.namespaceSelector.matchExpressions.find((e: any) => e.key === 'kubernetes.io/metadata.name');
      if (names.operator === 'NotIn') expect(names.values).toEqual(expect.arrayContaining([namespace, 'kube-system']));
      else expect(names.values).not.toContain(namespace);
      expect(hook.clientConfig.service).toMatchObject({ namespace, name: 'pullgate', path: '/mutate' });
    }
    // pullgate's own Pods opt out, and the disruption budget covers them.
    expect(deployment.spec.template.metadata.labels['pullgate.dev/inject']).toBe('disabled');
    expect(docs('pdb.yaml')[0].spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('lists every manifest in the kustomization', () => {
    const listed = parse(read('kustomization.yaml')).resources as string[];
    expect(listed.sort()).toEqual(['certificate.yaml', 'config.yaml', 'deployment.yaml', 'namespace.yaml', 'pdb.yaml', 'rbac.yaml', 'webhook.yaml', 'write-guard.yaml']);
  });
});
