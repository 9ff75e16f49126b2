// The plain manifests of deploy/ as committed (rendered from the chart, see chart.test.ts): what
// they promise, read without helm.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { checkConfig } from '../../../src/config/schema.ts';
import { DEPLOY_NAMESPACE } from '../../../scripts/render-deploy.ts';

const path = (file: string) => fileURLToPath(new URL(`../../../deploy/${file}`, import.meta.url));
const read = (file: string) => readFileSync(path(file), 'utf8');
const docs = (file: string) => parseAllDocuments(read(file)).map((d) => d.toJS() as any);
const configText = docs('config.yaml')[0].data['config.yaml'] as string;

describe('deploy/', () => {
  it('ships a valid example configuration', () => {
    expect(checkConfig(parse(configText)).problems).toEqual([]);
  });

  it('grants pullgate exactly: namespaces to read, secrets to create, the pull secret by name, its lease, its CA Secret and webhook configuration by name — nothing more', () => {
    const rbac = docs('rbac.yaml');
    expect(rbac.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
    expect(rbac.find((d) => d.kind === 'ClusterRole').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['my-app-registry'], verbs: ['get', 'list', 'watch', 'update', 'delete'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['pullgate'], verbs: ['list', 'watch', 'update'] },
    ]);
    const role = rbac.find((d) => d.kind === 'Role');
    expect(role.metadata.namespace).toBe(DEPLOY_NAMESPACE);
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pullgate-leader'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pullgate-ca'], verbs: ['get'] },
    ]);
    for (const binding of rbac.filter((d) => d.kind.endsWith('Binding'))) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'pullgate', namespace: DEPLOY_NAMESPACE }]);
      expect(rbac.find((d) => d.kind === binding.roleRef.kind).metadata.name).toBe(binding.roleRef.name);
    }
  });

  it('guards every Secret write of pullgate\'s ServiceAccount, denying, and failing closed', () => {
    const policy = docs('write-guard.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicy');
    const binding = docs('write-guard.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicyBinding');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] }]);
    expect(policy.spec.matchConditions).toEqual([{ name: 'pullgate-service-account', expression: "request.userInfo.username == 'system:serviceaccount:pullgate:pullgate'" }]);
    expect(binding).toMatchObject({ spec: { policyName: policy.metadata.name, validationActions: ['Deny'] } });
    expect(binding.spec.matchResources).toBeUndefined();
    const expressions = policy.spec.validations.map((v: any) => v.expression).join('\n');
    // Its own namespace only for creating the CA Secret (self-managed TLS), by name and type.
    for (const fact of ["['kube-system']", "request.namespace != 'pullgate' || request.operation == 'CREATE'", "(request.namespace == 'pullgate' ? 'pullgate-ca' : 'my-app-registry')", "(request.namespace == 'pullgate' ? 'kubernetes.io/tls' : 'kubernetes.io/dockerconfigjson')", "object.metadata.labels['app.kubernetes.io/managed-by'] == 'pullgate'", "oldObject.metadata.labels['app.kubernetes.io/managed-by'] == 'pullgate'"]) {
      expect(expressions).toContain(fact);
    }
    for (const validation of policy.spec.validations) {
      expect(validation.reason).toBe('Forbidden');
      expect(validation.message).toMatch(/^pullgate may /);
      // A message may name the Secret, never show what it holds.
      expect(`${validation.message} ${validation.messageExpression ?? ''}`).not.toMatch(/\.data\b|stringData/);
    }
  });

  it('runs the Deployment under the ServiceAccount the RBAC binds and the write guard names, in the namespace the webhook excludes, behind its Service', () => {
    const deployment = docs('deployment.yaml').find((d) => d.kind === 'Deployment');
    const { namespace } = deployment.metadata;
    const serviceAccount = deployment.spec.template.spec.serviceAccountName;
    expect(docs('rbac.yaml').find((d) => d.kind === 'ServiceAccount').metadata).toMatchObject({ name: serviceAccount, namespace });
    expect(docs('write-guard.yaml')[0].spec.matchConditions[0].expression).toContain(`'system:serviceaccount:${namespace}:${serviceAccount}'`);
    const service = docs('service.yaml')[0];
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    const webhook = parse(read('webhook.yaml'));
    for (const hook of webhook.webhooks) {
      const names = hook.namespaceSelector.matchExpressions.find((e: any) => e.key === 'kubernetes.io/metadata.name');
      if (names.operator === 'NotIn') expect(names.values).toEqual(expect.arrayContaining([namespace, 'kube-system']));
      else expect(names.values).not.toContain(namespace);
      expect(hook.clientConfig.service).toEqual({ namespace, name: service.metadata.name, path: '/mutate', port: 443 });
      expect(service.spec.ports.find((p: any) => p.port === 443).targetPort).toBe('https');
    }
    // Self-managed TLS: pullgate keeps the CA in this webhook configuration (the one its RBAC names)
    // and issues for that Service's name; the manifest carries no caBundle for an apply to reset.
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    expect(args.slice(args.indexOf('--tls'), args.indexOf('--tls') + 2)).toEqual(['--tls', 'self-managed']);
    expect(args[args.indexOf('--webhook-configuration') + 1]).toBe(webhook.metadata.name);
    expect(args[args.indexOf('--service-name') + 1]).toBe(service.metadata.name);
    for (const hook of webhook.webhooks) expect(hook.clientConfig.caBundle).toBeUndefined();
    // pullgate's own Pods opt out, and the disruption budget covers them.
    expect(deployment.spec.template.metadata.labels['pullgate.dev/inject']).toBe('disabled');
    expect(docs('pdb.yaml')[0].spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('lists every manifest in the kustomization, the namespace first', () => {
    const listed = parse(read('kustomization.yaml')).resources as string[];
    const manifests = readdirSync(fileURLToPath(new URL('../../../deploy/', import.meta.url))).filter((f) => f.endsWith('.yaml') && !['kustomization.yaml', 'values.yaml'].includes(f));
    expect([...listed].sort()).toEqual(manifests.sort());
    expect(listed[0]).toBe('namespace.yaml');
  });
});
