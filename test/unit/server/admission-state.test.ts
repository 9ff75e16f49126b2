// The live settings (configuration fixed at start, license swapped while running) and the
// admission context built on them.
import { describe, expect, it } from 'vitest';
import { effectiveSettings } from '../../../src/config/license-settings.ts';
import type { LoadedConfig } from '../../../src/config/load.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import { parseLicense } from '../../../src/license/license.ts';
import { admissionContext, liveSettings } from '../../../src/server/admission-state.ts';
import { AUTH, licenseYaml, type LicenseFields } from '../helpers/fixtures.ts';

function loaded(raw: Record<string, unknown>, fields: LicenseFields = {}): LoadedConfig {
  const license = parseLicense(licenseYaml(fields));
  const config = validateConfig({ license: { file: '/l' }, privateRegistries: ['quay.io/acme'], ...raw }, license);
  return { config, license, settings: effectiveSettings(config, license) };
}

/** The auth value of every registry in a base64 `.dockerconfigjson`. */
function auths(dockerConfigJson: string): string[] {
  const config = JSON.parse(Buffer.from(dockerConfigJson, 'base64').toString()) as { auths: Record<string, { auth: string }> };
  return Object.values(config.auths).map((a) => a.auth);
}

describe('liveSettings', () => {
  it('applies a reloaded license: policy and the derived credential follow it', () => {
    const live = liveSettings(loaded({}));
    expect(auths(live.derivedCredential())).toEqual([AUTH, AUTH]);
    expect(live.policy().rewrite.proxyDomain).toBe('proxy.replicated.com');

    live.setLicense(parseLicense(licenseYaml({ licenseID: 'renewed-id', replicatedProxyDomain: 'proxy.vendor.com' })));
    expect(live.policy().rewrite.proxyDomain).toBe('proxy.vendor.com');
    const renewed = Buffer.from('LICENSE_ID:renewed-id').toString('base64');
    expect(auths(live.derivedCredential())).toEqual([renewed, renewed]);
    expect(Object.keys(JSON.parse(Buffer.from(live.derivedCredential(), 'base64').toString()).auths)).toEqual(['proxy.vendor.com', 'registry.replicated.com']);
  });

  it('refuses a reloaded license that makes the settings invalid, and keeps the old one', () => {
    const live = liveSettings(loaded({}));
    const before = { policy: live.policy(), credential: live.derivedCredential(), license: live.license() };
    expect(() => live.setLicense(parseLicense(licenseYaml({ appSlug: 'Not-Valid', licenseID: 'other' })))).toThrow(/appSlug/);
    expect({ policy: live.policy(), credential: live.derivedCredential(), license: live.license() }).toEqual(before);
  });

  it('refuses a reloaded license that would rename the pull secret (watches and RBAC are bound to the name)', () => {
    const live = liveSettings(loaded({}));
    expect(live.settings().pullSecretName).toBe('my-app-registry');
    expect(() => live.setLicense(parseLicense(licenseYaml({ appSlug: 'other-app' })))).toThrow(/rename the pull secret "my-app-registry" to "other-app-registry"/);
    expect(live.settings().pullSecretName).toBe('my-app-registry');
    // With the name fixed in the configuration, a new appSlug changes the rewrite but not the secret.
    const pinned = liveSettings(loaded({ pullSecret: { name: 'vendor-pull' } }));
    pinned.setLicense(parseLicense(licenseYaml({ appSlug: 'other-app' })));
    expect(pinned.policy().rewrite.appSlug).toBe('other-app');
    expect(pinned.settings().pullSecretName).toBe('vendor-pull');
  });
});

describe('admissionContext', () => {
  it('carries the expiry warning exactly while the license is expired, by the clock it is given', () => {
    const live = liveSettings(loaded({}, { expiresAt: '2030-01-01T00:00:00Z' }));
    let now = new Date('2029-12-31T23:59:59Z');
    const context = admissionContext({ live, serves: () => true, ensurePullSecret: async () => undefined, now: () => now });
    expect(context.standingWarnings()).toEqual([]);
    now = new Date('2030-01-01T00:00:00Z');
    expect(context.standingWarnings()).toEqual([expect.stringMatching(/expired at 2030-01-01T00:00:00\.000Z; the proxy will refuse pulls$/)]);
  });

  it('passes on an answer known at once without a promise or a deadline timer', () => {
    const live = liveSettings(loaded({}));
    const context = admissionContext({ live, serves: () => true, ensurePullSecret: () => 'unchanged', budgetMs: 50 });
    expect(context.ensurePullSecret('my-app')).toBeUndefined();
    const failing = admissionContext({ live, serves: () => true, ensurePullSecret: () => { throw new Error('remembered failure'); } });
    expect(() => failing.ensurePullSecret('my-app')).toThrow('remembered failure');
  });

  it('stops waiting for a pull secret that takes longer than its budget, so the Pod is still admitted rewritten', async () => {
    const live = liveSettings(loaded({}));
    const context = admissionContext({ live, serves: () => true, ensurePullSecret: () => new Promise(() => {}), budgetMs: 50 });
    await expect(context.ensurePullSecret('my-app')).rejects.toThrow('no answer from the API server within 0.05 s');
  });
});
