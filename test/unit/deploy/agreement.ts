// Asserts that a chart rendering agrees with what pullgate's TypeScript renders for the
// configuration in that rendering's ConfigMap: webhook selectors, RBAC rules, write guard.
import type { V1ClusterRole, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { expect } from 'vitest';
import { expectedFor, type Expected } from './expected.ts';
import type { Rendered } from './helm.ts';

export function expectAgreement(
  rendered: Rendered,
  namespace: string,
  name: string,
  webhook: { failurePolicy: 'Ignore' | 'Fail'; timeoutSeconds: number } = { failurePolicy: 'Fail', timeoutSeconds: 10 },
): Expected {
  const expected = expectedFor(rendered, namespace, name, webhook);

  const configuration = rendered.one('MutatingWebhookConfiguration');
  expect(configuration.metadata.name).toBe(expected.webhook.metadata!.name);
  expect(configuration.metadata.labels).toMatchObject(expected.webhook.metadata!.labels!);
  expect(configuration.webhooks).toEqual(expected.webhook.webhooks);

  const [serviceAccount, clusterRole, , role] = expected.rbac as [V1ServiceAccount, V1ClusterRole, V1RoleBinding, V1Role, V1RoleBinding];
  expect(rendered.one('ServiceAccount').metadata).toMatchObject({ name: serviceAccount.metadata!.name, namespace });
  expect(rendered.one('ClusterRole').rules).toEqual(clusterRole.rules);
  expect(rendered.one('Role').metadata.namespace).toBe(namespace);
  expect(rendered.one('Role').rules).toEqual(role.rules);
  for (const [binding, roleKind] of [['ClusterRoleBinding', 'ClusterRole'], ['RoleBinding', 'Role']] as const) {
    const rb = rendered.one(binding);
    const wanted = expected.rbac.find((m) => m.kind === binding) as V1RoleBinding;
    expect(rb.subjects, binding).toEqual(wanted.subjects);
    expect(rb.roleRef, binding).toEqual({ ...wanted.roleRef, name: rendered.one(roleKind).metadata.name });
    if (binding === 'RoleBinding') expect(rb.metadata.namespace).toBe(namespace);
  }

  const [policy, policyBinding] = expected.writeGuard;
  const renderedPolicy = rendered.one('ValidatingAdmissionPolicy');
  expect(renderedPolicy.spec).toEqual(policy.spec);
  expect(rendered.one('ValidatingAdmissionPolicyBinding').spec).toEqual({ ...policyBinding.spec, policyName: renderedPolicy.metadata.name });

  // The Deployment runs as that ServiceAccount, in that namespace, with that configuration.
  const deployment = rendered.one('Deployment');
  expect(deployment.metadata.namespace).toBe(namespace);
  expect(deployment.spec.template.spec.serviceAccountName).toBe(name);
  expect(deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(`${name}-config`);
  return expected;
}
