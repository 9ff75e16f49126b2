// The Helm chart is the one source of deploy/: the committed plain manifests are its rendering, and
// for every configuration its webhook selectors, RBAC and write guard are what pullgate's own
// TypeScript renders for the configuration it hands pullgate.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, DEPLOY_DIR, DEPLOY_NAMESPACE, DEPLOY_RELEASE, DEPLOY_VALUES, KUBE_VERSION, renderDeploy, staleFiles } from '../../../scripts/render-deploy.ts';
import { expectAgreement } from './agreement.ts';
import { HELM, helm, helmUnavailable, render, valuesFile } from './helm.ts';

const LICENSE = 'apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: chart-test-license\n  appSlug: acme\n';
const BASE = { appSlug: 'acme', privateRegistries: ['quay.io/acme'], license: { value: LICENSE }, namespaces: { application: 'acme' } };
const DOCKER_CONFIG = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: Buffer.from('LICENSE_ID:chart-test').toString('base64') } } })).toString('base64');

/** Value sets, each rendered as release acme in namespace acme-system (objects named acme-pullgate). */
const VALUE_SETS: Record<string, object> = {
  'every namespace ("*")': { ...BASE, namespaces: { application: 'acme', additional: ['*'], exclude: ['legacy'] } },
  'opt-in label only': { ...BASE, namespaces: { optInLabel: 'example.com/pullgate=on' } },
  'a pull secret name of its own, no appSlug': { privateRegistries: ['quay.io/acme'], license: { existingSecret: 'acme-license' }, pullSecret: { name: 'custom-pull' }, namespaces: { application: 'acme', additional: ['monitoring'] } },
  'the credential from global.replicated.dockerconfigjson': { ...BASE, global: { replicated: { dockerconfigjson: DOCKER_CONFIG, customerName: 'ACME', licenseFields: { expires_at: { value: '' } } } } },
  'failurePolicy Fail, a 5 s timeout': { ...BASE, webhook: { failurePolicy: 'Fail', timeoutSeconds: 5 } },
  'TLS from cert-manager': { ...BASE, tls: { mode: 'cert-manager' } },
  'TLS from an existing Secret, its own CA Secret name ignored': { ...BASE, tls: { mode: 'secret', caSecretName: 'unused-ca' } },
};

describe.skipIf(helmUnavailable)('the chart deploy/helm/pullgate', () => {
  it('renders deploy/ exactly as committed, with deploy/values.yaml (npm run render-deploy)', () => {
    const rendered = renderDeploy(HELM);
    for (const [file, content] of rendered) expect(readFileSync(join(DEPLOY_DIR, file), 'utf8'), `deploy/${file} is stale: npm run render-deploy`).toBe(content);
    expect(staleFiles(rendered), 'left over from an earlier rendering: npm run render-deploy').toEqual([]);
    const onDisk = readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.yaml') && f !== 'values.yaml');
    expect(onDisk.sort()).toEqual([...rendered.keys()].sort());
  });

  it('renders for deploy/values.yaml what the TypeScript renders for the configuration it ships', () => {
    const rendered = render({}, { release: DEPLOY_RELEASE, namespace: DEPLOY_NAMESPACE, valuesFiles: [DEPLOY_VALUES] });
    const expected = expectAgreement(rendered, DEPLOY_NAMESPACE, 'pullgate');
    expect(expected.settings.pullSecretName).toBe('my-app-registry');
  });

  it.each(Object.entries(VALUE_SETS))('agrees with the TypeScript for %s', (_, values) => {
    const webhook = (values as { webhook?: { failurePolicy: 'Ignore' | 'Fail'; timeoutSeconds: number } }).webhook;
    expectAgreement(render(values), 'acme-system', 'acme-pullgate', webhook);
  });

  it('"*": one webhook for every namespace but the excluded ones, its own and kube-system', () => {
    const [hook, ...more] = render(VALUE_SETS['every namespace ("*")']!).one('MutatingWebhookConfiguration').webhooks;
    expect(more).toEqual([]);
    expect(hook.name).toBe('pods.pullgate.dev');
    expect(hook.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['acme-system', 'kube-system', 'legacy'] }] });
  });

  it('opt-in label only: one webhook, for labelled namespaces but its own and kube-system', () => {
    const [hook, ...more] = render(VALUE_SETS['opt-in label only']!).one('MutatingWebhookConfiguration').webhooks;
    expect(more).toEqual([]);
    expect(hook.name).toBe('opt-in.pods.pullgate.dev');
    expect(hook.namespaceSelector).toEqual({
      matchLabels: { 'example.com/pullgate': 'on' },
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['acme-system', 'kube-system'] }],
    });
  });

  it('names its own pull secret in the RBAC, the write guard and the configuration', () => {
    const rendered = render(VALUE_SETS['a pull secret name of its own, no appSlug']!);
    expect(rendered.one('ClusterRole').rules.find((r: { resources: string[]; resourceNames?: string[] }) => r.resources.includes('secrets') && r.resourceNames).resourceNames).toEqual(['custom-pull']);
    expect(rendered.one('ValidatingAdmissionPolicy').spec.validations.map((v: { expression: string }) => v.expression)).toContain("variables.name == (request.namespace == 'acme-system' ? 'acme-pullgate-ca' : 'custom-pull')");
    expect(rendered.one('ConfigMap').data['config.yaml']).toContain('name: custom-pull');
    expect(rendered.one('ConfigMap').data['config.yaml']).not.toContain('appSlug');
    expect(rendered.one('Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'license').secret.secretName).toBe('acme-license');
    expect(rendered.all('Secret')).toEqual([]);
  });

  it('makes a dockerconfigjson Secret of global.replicated.dockerconfigjson, reads it by name and hands it to pullgate', () => {
    const rendered = render(VALUE_SETS['the credential from global.replicated.dockerconfigjson']!);
    const secret = rendered.one('Secret', 'acme-pullgate-dockerconfig');
    expect(secret).toMatchObject({ type: 'kubernetes.io/dockerconfigjson', metadata: { namespace: 'acme-system' }, data: { '.dockerconfigjson': DOCKER_CONFIG } });
    expect(rendered.one('Role').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['acme-pullgate-dockerconfig'], verbs: ['get', 'list', 'watch'] });
    expect(rendered.one('ConfigMap').data['config.yaml']).toContain('dockerConfigSecret: acme-pullgate-dockerconfig');
    // The license is still needed: its Secret, made from license.value.
    expect(Buffer.from(rendered.one('Secret', 'acme-pullgate-license').data['license.yaml'], 'base64').toString()).toBe(LICENSE);
    // An explicit credentials.dockerConfigSecret wins, and nothing is made of the global.
    const explicit = render({ ...VALUE_SETS['the credential from global.replicated.dockerconfigjson']!, credentials: { dockerConfigSecret: 'vendor-pull' } });
    expect(explicit.all('Secret').map((s) => s.metadata.name)).toEqual(['acme-pullgate-license']);
    expect(explicit.one('Role').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['vendor-pull'], verbs: ['get', 'list', 'watch'] });
    expectAgreement(explicit, 'acme-system', 'acme-pullgate');
  });

  it('keeps pullgate in namespaceOverride, so it serves the release namespace', () => {
    const rendered = render({ ...BASE, namespaceOverride: 'pullgate-system', createNamespace: true }, { namespace: 'acme' });
    expectAgreement(rendered, 'pullgate-system', 'acme-pullgate');
    expect(rendered.one('Namespace').metadata.name).toBe('pullgate-system');
    for (const doc of rendered.docs) if (doc.metadata.namespace !== undefined) expect(doc.metadata.namespace, doc.kind).toBe('pullgate-system');
    expect(rendered.one('MutatingWebhookConfiguration').webhooks[0].namespaceSelector.matchExpressions[0]).toMatchObject({ operator: 'In', values: ['acme'] });
  });

  it('passes helm lint --strict with deploy/values.yaml and with every value set', () => {
    for (const [what, file] of [['deploy/values.yaml', DEPLOY_VALUES], ...Object.entries(VALUE_SETS).map(([what, values]) => [what, valuesFile(values)])] as const) {
      const out = helm(['lint', '--strict', CHART_DIR, '--kube-version', KUBE_VERSION, '--values', file]);
      expect(out.stdout, what).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(out.code, `${what}:\n${out.stdout}${out.stderr}`).toBe(0);
    }
  });
});
