// The live admission context: namespaces it never serves, the standing expiry warning, and a
// license swapped in while running.
import { ApiException, type CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { effectiveSettings, validateConfig, type LoadedConfig } from '../../../src/config.ts';
import { pullSecretSpec } from '../../../src/admission/policy.ts';
import { PullSecretKeeper } from '../../../src/k8s/pull-secret-keeper.ts';
import { parseLicense } from '../../../src/license/license.ts';
import { createAdmissionState } from '../../../src/server/admission-state.ts';
import { AUTH, licenseYaml, type LicenseFields } from '../helpers/fixtures.ts';
import { captureLogs } from '../helpers/logs.ts';

function loaded(raw: Record<string, unknown>, fields: LicenseFields = {}): LoadedConfig {
  const license = parseLicense(licenseYaml(fields));
  const problems: string[] = [];
  const config = validateConfig({ license: { file: '/l' }, privateRegistries: ['quay.io/acme'], ...raw }, license, problems);
  expect(problems).toEqual([]);
  return { config, license, settings: effectiveSettings(config, license) };
}

/** A CoreV1Api that keeps secrets in a map; only what the keeper calls. */
function fakeApi() {
  const secrets = new Map<string, V1Secret>();
  const api = {
    readNamespacedSecret: async ({ name, namespace }: { name: string; namespace: string }) => {
      const found = secrets.get(`${namespace}/${name}`);
      if (!found) throw new ApiException(404, 'not found', { kind: 'Status', code: 404, reason: 'NotFound' }, {});
      return found;
    },
    createNamespacedSecret: async ({ namespace, body }: { namespace: string; body: V1Secret }) => {
      secrets.set(`${namespace}/${body.metadata!.name}`, body);
      return body;
    },
    replaceNamespacedSecret: async ({ name, namespace, body }: { name: string; namespace: string; body: V1Secret }) => {
      secrets.set(`${namespace}/${name}`, body);
      return body;
    },
  };
  return { api: api as unknown as CoreV1Api, secrets };
}

function authIn(secret: V1Secret | undefined): string {
  const config = JSON.parse(Buffer.from(secret!.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { auth: string }> };
  return Object.values(config.auths)[0]!.auth;
}

describe('createAdmissionState', () => {
  it('never serves kube-system, the configured exclusions or its own namespace', () => {
    const l = loaded({ namespaces: { exclude: ['legacy'] } });
    const state = createAdmissionState(l, 'pullgate-system', new PullSecretKeeper(pullSecretSpec(l.settings, l.license), { api: fakeApi().api, logger: captureLogs().logger }));
    for (const ns of ['kube-system', 'legacy', 'pullgate-system']) expect(state.context.isExcludedNamespace(ns), ns).toBe(true);
    for (const ns of ['my-app', 'default', 'kube-public']) expect(state.context.isExcludedNamespace(ns), ns).toBe(false);
  });

  it('carries the expiry warning exactly while the license is expired, by the clock it is given', () => {
    const l = loaded({}, { expiresAt: '2030-01-01T00:00:00Z' });
    let now = new Date('2029-12-31T23:59:59Z');
    const state = createAdmissionState(l, 'pullgate', new PullSecretKeeper(pullSecretSpec(l.settings, l.license), { api: fakeApi().api, logger: captureLogs().logger }), () => now);
    expect(state.context.standingWarnings()).toEqual([]);
    now = new Date('2030-01-01T00:00:00Z');
    expect(state.context.standingWarnings()).toEqual([expect.stringMatching(/expired at 2030-01-01T00:00:00\.000Z; the proxy will refuse pulls$/)]);
  });

  it('applies a reloaded license: policy, standing warnings and the pull secret follow it', async () => {
    const l = loaded({});
    const { api, secrets } = fakeApi();
    const keeper = new PullSecretKeeper(pullSecretSpec(l.settings, l.license), { api, logger: captureLogs().logger });
    const state = createAdmissionState(l, 'pullgate', keeper, () => new Date('2031-01-01T00:00:00Z'));
    await state.context.ensurePullSecret('my-app');
    expect(authIn(secrets.get('my-app/my-app-registry'))).toBe(AUTH);
    expect(state.context.policy().rewrite.proxyDomain).toBe('proxy.replicated.com');

    state.setLicense(parseLicense(licenseYaml({ licenseID: 'renewed-id', replicatedProxyDomain: 'proxy.vendor.com', expiresAt: '2030-06-01T00:00:00Z' })));
    expect(state.context.policy().rewrite.proxyDomain).toBe('proxy.vendor.com');
    expect(state.context.standingWarnings()).toHaveLength(1);
    await state.context.ensurePullSecret('my-app');
    expect(authIn(secrets.get('my-app/my-app-registry'))).toBe(Buffer.from('LICENSE_ID:renewed-id').toString('base64'));
  });

  it('refuses a reloaded license that makes the settings invalid, and keeps the old one', () => {
    const l = loaded({});
    const state = createAdmissionState(l, 'pullgate', new PullSecretKeeper(pullSecretSpec(l.settings, l.license), { api: fakeApi().api, logger: captureLogs().logger }));
    const before = state.context.policy();
    expect(() => state.setLicense(parseLicense(licenseYaml({ appSlug: 'Not-Valid', expiresAt: '2000-01-01T00:00:00Z' })))).toThrow(/appSlug/);
    expect(state.context.policy()).toBe(before);
    expect(state.context.standingWarnings()).toEqual([]);
  });
});

describe('the pull secret budget', () => {
  it('stops waiting for an API server that does not answer, so the Pod is still admitted rewritten', async () => {
    const l = loaded({});
    const hanging = { readNamespacedSecret: () => new Promise(() => {}) } as unknown as CoreV1Api;
    const keeper = new PullSecretKeeper(pullSecretSpec(l.settings, l.license), { api: hanging, logger: captureLogs().logger });
    const state = createAdmissionState(l, 'pullgate', keeper, () => new Date(), 50);
    await expect(state.context.ensurePullSecret('my-app')).rejects.toThrow('no answer from the API server within 0.05 s');
  });
});
