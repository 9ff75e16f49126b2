import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { effectiveSettings, validateConfig } from '../../../src/config.ts';
import { deployWebhookConfiguration } from '../../../scripts/render-webhook.ts';

// deploy/ is generated from, or must agree with, the example configuration it ships.
const read = (file: string) => readFileSync(fileURLToPath(new URL(`../../../deploy/${file}`, import.meta.url)), 'utf8');
const docs = (file: string) => parseAllDocuments(read(file)).map((d) => d.toJS() as any);
const configMap = parse(read('config.yaml'));
const problems: string[] = [];
const config = validateConfig(parse(configMap.data['config.yaml']), undefined, problems);

describe('deploy/', () => {
  it('ships a valid example configuration', () => {
    expect(problems).toEqual([]);
  });

  it('holds exactly the webhook configuration rendered from that configuration (node scripts/render-webhook.ts)', () => {
    expect(parse(read('webhook.yaml'))).toEqual(JSON.parse(JSON.stringify(deployWebhookConfiguration(config.namespaces))));
  });

  it('lets pullgate get, update and delete exactly the configured pull secret, and create secrets, nothing more', () => {
    const role = docs('rbac.yaml').find((d) => d.kind === 'ClusterRole');
    const settings = effectiveSettings(config, { licenseID: 'x', appSlug: 'unused', customerName: '' });
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [settings.pullSecretName], verbs: ['get', 'update', 'delete'] },
    ]);
  });

  it('runs the Deployment under the ServiceAccount the RBAC binds, in the namespace the webhook excludes', () => {
    const deployment = docs('deployment.yaml').find((d) => d.kind === 'Deployment');
    const binding = docs('rbac.yaml').find((d) => d.kind === 'ClusterRoleBinding');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: deployment.spec.template.spec.serviceAccountName, namespace: deployment.metadata.namespace }]);
    const webhook = parse(read('webhook.yaml'));
    for (const hook of webhook.webhooks) {
      const names = hook.namespaceSelector.matchExpressions.find((e: any) => e.key === 'kubernetes.io/metadata.name');
      if (names.operator === 'NotIn') expect(names.values).toEqual(expect.arrayContaining([deployment.metadata.namespace, 'kube-system']));
      else expect(names.values).not.toContain(deployment.metadata.namespace);
      expect(hook.clientConfig.service).toMatchObject({ namespace: deployment.metadata.namespace, name: 'pullgate', path: '/mutate' });
    }
    // pullgate's own Pods opt out, and the disruption budget covers them.
    expect(deployment.spec.template.metadata.labels['pullgate.dev/inject']).toBe('disabled');
    expect(docs('pdb.yaml')[0].spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('lists every manifest in the kustomization', () => {
    const listed = parse(read('kustomization.yaml')).resources as string[];
    expect(listed.sort()).toEqual(['certificate.yaml', 'config.yaml', 'deployment.yaml', 'namespace.yaml', 'pdb.yaml', 'rbac.yaml', 'webhook.yaml']);
  });
});
