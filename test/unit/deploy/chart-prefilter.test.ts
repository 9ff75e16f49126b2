// The chart's prefilter (matchConditions) is the TypeScript's for every way the proxy domain can be
// known when it renders, and for Docker Hub entries in every spelling; Pods wait for pullgate
// (failurePolicy Fail) by default, except in the namespaces a restart of pullgate needs.
import { describe, expect, it } from 'vitest';
import { expectAgreement } from './agreement.ts';
import { helmUnavailable, render } from './helm.ts';

const LICENSE = `apiVersion: kots.io/v1beta2
kind: License
spec:
  licenseID: chart-prefilter
  appSlug: acme
  channelID: beta
  replicatedProxyDomain: Images.Acme.IO
  channels:
    - channelID: beta
      replicatedProxyDomain: " proxy.acme.io:8443 "
    - channelID: stable
      isDefault: true
    - not-a-channel
`;
const BASE = { appSlug: 'acme', privateRegistries: ['quay.io/acme'], license: { value: LICENSE }, namespaces: { application: 'acme' } };

const VALUE_SETS: Record<string, object> = {
  'the proxy domain set': { ...BASE, proxyDomain: 'Proxy.Example.com:8443' },
  'the proxy domains of an inline license': BASE,
  'an inline license naming none': { ...BASE, license: { value: 'apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: x\n  appSlug: acme\n' } },
  'a license in an existing Secret, the proxy domain unknown': { ...BASE, license: { existingSecret: 'acme-license' } },
  'Docker Hub entries in every spelling, the registry in upper case': {
    ...BASE,
    proxyDomain: 'proxy.example.com',
    registryDomain: 'Registry.Example.COM',
    privateRegistries: ['docker.io/library/nginx', 'INDEX.DOCKER.IO/library', 'Registry-1.Docker.io/acme/', 'docker.io', 'localhost/team', '10.1.2.3'],
  },
};

describe.skipIf(helmUnavailable)("the chart's webhook prefilter", () => {
  it.each(Object.entries(VALUE_SETS))('is the TypeScript rendering for %s', (_, values) => {
    const rendered = render(values);
    expectAgreement(rendered, 'acme-system', 'acme-pullgate');
    for (const hook of rendered.one('MutatingWebhookConfiguration').webhooks) expect(hook.matchConditions).toHaveLength(1);
  });

  it('names every proxy domain of an inline license, and any registry host when it cannot know them', () => {
    const expression = (values: object) => render(values).one('MutatingWebhookConfiguration').webhooks[0].matchConditions[0].expression as string;
    const inline = expression(BASE);
    for (const host of ['images\\.acme\\.io/', 'proxy\\.acme\\.io:8443/', 'proxy\\.replicated\\.com/']) expect(inline).toContain(`|${host}`);
    expect(inline).not.toContain('localhost)/');
    expect(expression(VALUE_SETS['a license in an existing Secret, the proxy domain unknown']!)).toContain('|(?:[^/]*[.:][^/]*|localhost)/)');
  });

  it('refuses Pods while pullgate is unreachable by default, but never in its own namespace or kube-system', () => {
    for (const values of [BASE, { ...BASE, namespaces: { application: 'acme', additional: ['*'] } }]) {
      for (const hook of render(values).one('MutatingWebhookConfiguration').webhooks) {
        expect(hook.failurePolicy).toBe('Fail');
        const names = hook.namespaceSelector.matchExpressions.find((e: { key: string }) => e.key === 'kubernetes.io/metadata.name');
        if (names.operator === 'NotIn') expect(names.values).toEqual(expect.arrayContaining(['acme-system', 'kube-system']));
        else expect(names.values).not.toEqual(expect.arrayContaining(['acme-system']));
      }
    }
    expect(render({ ...BASE, webhook: { failurePolicy: 'Ignore', timeoutSeconds: 10 } }).one('MutatingWebhookConfiguration').webhooks[0].failurePolicy).toBe('Ignore');
  });
});
