// The install guard: a Helm hook, created before the release's other objects, holding the same
// webhooks as the main configuration but always failing closed and without a caBundle, so the
// application's Pods are refused, not admitted unrewritten, until pullgate serves and deletes it;
// pullgate told its name and allowed to delete it, and nothing else.
import { describe, expect, it } from 'vitest';
import { expectAgreement } from './agreement.ts';
import { helmUnavailable, render } from './helm.ts';

const BASE = { appSlug: 'acme', privateRegistries: ['quay.io/acme'], license: { existingSecret: 'acme-license' }, namespaces: { application: 'acme', additional: ['monitoring'] } };
const GUARD = 'acme-pullgate-install';

describe.skipIf(helmUnavailable)("the chart's install guard", () => {
  it.each([
    ['self-managed TLS, failing open', { webhook: { failurePolicy: 'Ignore', timeoutSeconds: 7 } }],
    ['cert-manager, every namespace', { tls: { mode: 'cert-manager' }, namespaces: { application: 'acme', additional: ['*'] } }],
  ])('%s: a pre-install and pre-upgrade hook with the main webhooks, failing closed, without a caBundle', (_, values) => {
    const rendered = render({ ...BASE, ...values });
    const main = rendered.one('MutatingWebhookConfiguration');
    expect(main.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    expect(rendered.hooks).toHaveLength(1);
    const guard = rendered.hooks[0];
    expect(guard.kind).toBe('MutatingWebhookConfiguration');
    expect(guard.metadata.name).toBe(GUARD);
    expect(guard.metadata.annotations).toEqual({ 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation' });
    expect(guard.metadata.labels).toEqual(main.metadata.labels);
    // Same names, rules, selectors (pullgate's namespace and kube-system excluded) and match conditions.
    const { caBundle: _ca, ...service } = main.webhooks[0].clientConfig;
    expect(guard.webhooks).toEqual(main.webhooks.map((w: { clientConfig: object }) => ({ ...w, failurePolicy: 'Fail', clientConfig: service })));
    for (const hook of guard.webhooks) {
      expect(hook.clientConfig).toEqual({ service: { namespace: 'acme-system', name: 'acme-pullgate', path: '/mutate', port: 443 } });
      const [names] = hook.namespaceSelector.matchExpressions;
      if (names.operator === 'In') expect(names.values).not.toContain('acme-system');
    }
    const excluded = guard.webhooks.flatMap((w: { namespaceSelector: { matchExpressions: Array<{ operator: string; values: string[] }> } }) =>
      w.namespaceSelector.matchExpressions.filter((e) => e.operator === 'NotIn').flatMap((e) => e.values));
    expect(excluded).toEqual(expect.arrayContaining(['acme-system', 'kube-system']));

    // pullgate deletes it by name once it serves: told its name, allowed that and nothing more on it.
    expect(rendered.one('Deployment').spec.template.spec.containers[0].args.join(' ')).toContain(`--install-guard ${GUARD}`);
    const { settings } = expectAgreement(rendered, 'acme-system', 'acme-pullgate', (values as { webhook?: { failurePolicy: 'Ignore'; timeoutSeconds: number } }).webhook);
    expect(settings.installGuard).toBe(GUARD);
    expect(rendered.one('ClusterRole').rules).toContainEqual({ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [GUARD], verbs: ['delete'] });
  });

  it("leaves out the CA given for the main configuration: it refuses whether pullgate's Service answers or not", () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64');
    const rendered = render({ ...BASE, tls: { mode: 'secret', caBundle: ca } });
    for (const hook of rendered.one('MutatingWebhookConfiguration').webhooks) expect(hook.clientConfig.caBundle).toBe(ca);
    for (const hook of rendered.hooks[0].webhooks) expect(hook.clientConfig).toEqual({ service: { namespace: 'acme-system', name: 'acme-pullgate', path: '/mutate', port: 443 } });
  });

  it('switched off: no hook, no flag, no right', () => {
    const rendered = render({ ...BASE, installGuard: { enabled: false } });
    expect(rendered.hooks).toEqual([]);
    expect(rendered.one('Deployment').spec.template.spec.containers[0].args).not.toContain('--install-guard');
    expect(JSON.stringify(rendered.one('ClusterRole').rules)).not.toContain(GUARD);
    expect(expectAgreement(rendered, 'acme-system', 'acme-pullgate').settings.installGuard).toBeUndefined();
  });
});
