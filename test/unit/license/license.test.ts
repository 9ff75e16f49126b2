import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LicenseError, expiryWarning, isExpired, parseLicense } from '../../../src/license/license.ts';
import { LICENSE_ID, licenseYaml, type LicenseFields } from '../helpers/fixtures.ts';

function problemsOf(text: string): string[] {
  try {
    parseLicense(text);
  } catch (err) {
    expect(err).toBeInstanceOf(LicenseError);
    return (err as LicenseError).problems;
  }
  throw new Error('expected a LicenseError');
}

describe('parseLicense', () => {
  it('reads the fields pullgate uses', () => {
    const license = parseLicense(licenseYaml({ customerName: 'Acme Corp', replicatedProxyDomain: 'proxy.acme.com', expiresAt: '2030-06-30T12:00:00Z' }));
    expect(license).toEqual({
      licenseID: LICENSE_ID,
      appSlug: 'my-app',
      customerName: 'Acme Corp',
      proxyDomain: 'proxy.acme.com',
      expiresAt: new Date('2030-06-30T12:00:00.000Z'),
    });
  });

  it.each(['kots.io/v1beta1', 'kots.io/v1beta2'])('reads apiVersion %s alike', (apiVersion) => {
    expect(parseLicense(licenseYaml({ apiVersion, customerName: 'Acme Corp', replicatedProxyDomain: 'proxy.acme.com', expiresAt: '2030-06-30T12:00:00Z' }))).toEqual({
      licenseID: LICENSE_ID,
      appSlug: 'my-app',
      customerName: 'Acme Corp',
      proxyDomain: 'proxy.acme.com',
      expiresAt: new Date('2030-06-30T12:00:00.000Z'),
    });
  });

  it.each(['kots.io/v1beta3', 'kots.io/v1', 'v1beta2', 'KOTS.IO/V1BETA2', 'kots.io/v1beta2 '])('rejects apiVersion %s', (apiVersion) => {
    expect(problemsOf(licenseYaml({ apiVersion }))).toEqual(['expected apiVersion kots.io/v1beta1 or kots.io/v1beta2 and kind License']);
  });

  it('leaves proxyDomain and expiresAt out when the license has none', () => {
    const license = parseLicense(licenseYaml());
    expect(license).not.toHaveProperty('proxyDomain');
    expect(license).not.toHaveProperty('expiresAt');
  });

  it('treats an empty expiry value, or none, as never expiring', () => {
    expect(parseLicense(licenseYaml({ expiresAt: '' })).expiresAt).toBeUndefined();
    const nullValue = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: 'x', appSlug: 'a', entitlements: { expires_at: { value: null } } } });
    expect(parseLicense(nullValue).expiresAt).toBeUndefined();
    const noEntitlements = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: 'x', appSlug: 'a', entitlements: {} } });
    expect(parseLicense(noEntitlements).expiresAt).toBeUndefined();
  });

  it('accepts a license without customerName, as an empty name', () => {
    const text = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: 'x', appSlug: 'a' } });
    expect(parseLicense(text).customerName).toBe('');
  });

  it('trims the license ID, app slug and proxy domain', () => {
    const text = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: ' id-1 ', appSlug: ' app ', replicatedProxyDomain: ' p.example.com ' } });
    expect(parseLicense(text)).toMatchObject({ licenseID: 'id-1', appSlug: 'app', proxyDomain: 'p.example.com' });
  });

  it.each([
    ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02T03:04:05.123Z', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05+02:00', '2030-01-02T01:04:05.000Z'],
    ['2030-01-02T03:04:05-05:30', '2030-01-02T08:34:05.000Z'],
    ['2030-01-02t03:04:05z', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02 03:04:05Z', '2030-01-02T03:04:05.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ])('parses the RFC 3339 time %s', (value, iso) => {
    expect(parseLicense(licenseYaml({ expiresAt: value })).expiresAt!.toISOString()).toBe(iso);
  });

  it.each(['2030-01-02', '2030-01-02T03:04:05', 'tomorrow', '01/02/2030', '2030-13-01T00:00:00Z', '2030-02-30T00:00:00Z', '2029-02-29T00:00:00Z', '2030-01-01T24:00:00Z', '2030-01-01T10:60:00Z'])(
    'rejects %s as an expiry time',
    (value) => {
      expect(problemsOf(licenseYaml({ expiresAt: value }))).toEqual([`spec.entitlements.expires_at.value "${value}" is not an RFC 3339 time`]);
    },
  );

  it('rejects an expiry value that is not a string', () => {
    const text = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: 'x', appSlug: 'a', entitlements: { expires_at: { value: 1893456000 } } } });
    expect(problemsOf(text)).toEqual(['spec.entitlements.expires_at.value must be a string']);
  });

  it('lists every problem at once', () => {
    const text = stringify({ apiVersion: 'v1', kind: 'Secret', spec: { licenseID: '  ', entitlements: { expires_at: { value: 'soon' } } } });
    expect(problemsOf(text)).toEqual([
      'expected apiVersion kots.io/v1beta1 or kots.io/v1beta2 and kind License',
      'spec.licenseID is required',
      'spec.appSlug is required',
      'spec.entitlements.expires_at.value "soon" is not an RFC 3339 time',
    ]);
  });

  it('rejects text that is not YAML, or not a mapping', () => {
    expect(problemsOf('spec: [unclosed')[0]).toMatch(/^not valid YAML/);
    expect(problemsOf('')).toContain('spec.licenseID is required');
    expect(problemsOf('- a\n- b\n')).toContain('expected apiVersion kots.io/v1beta1 or kots.io/v1beta2 and kind License');
  });

  it('never puts the license ID in a problem', () => {
    const id = 'LicID-secret-value-1234567890';
    const texts = [
      `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: ${id}\n  appSlug: [broken\n`,
      `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: ${id}\n  licenseID: ${id}\n`,
      `apiVersion: kots.io/v1beta1\nkind: Nope\nspec:\n  licenseID: ${id}\n  entitlements: {expires_at: {value: "x"}}\n`,
      `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: "${id}\n`,
    ];
    for (const text of texts) expect(problemsOf(text).join('\n')).not.toContain(id);
  });

  it('never puts the license ID in a problem, whatever else is wrong (property)', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{24}$/),
        fc.record({ apiVersion: value, kind: value, appSlug: value, customerName: value, replicatedProxyDomain: value, expires: value }, { requiredKeys: [] }),
        (id, fields) => {
          const text = stringify({
            apiVersion: fields.apiVersion,
            kind: fields.kind,
            spec: { licenseID: id, appSlug: fields.appSlug, customerName: fields.customerName, replicatedProxyDomain: fields.replicatedProxyDomain, entitlements: { expires_at: { value: fields.expires } } },
          });
          try {
            parseLicense(text);
          } catch (err) {
            expect(err).toBeInstanceOf(LicenseError);
            expect((err as Error).message).not.toContain(id);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('proxy domain', () => {
  const stable = { channelID: 'c-stable', channelName: 'Stable', channelSlug: 'stable', isDefault: true, replicatedProxyDomain: 'proxy.stable.acme.com' };
  const beta = { channelID: 'c-beta', channelName: 'Beta', channelSlug: 'beta', isDefault: false, replicatedProxyDomain: 'proxy.beta.acme.com' };
  const bare = { channelID: 'c-bare', channelName: 'Bare', channelSlug: 'bare', isDefault: false };
  const proxyDomain = (fields: LicenseFields) => parseLicense(licenseYaml(fields)).proxyDomain;

  it("takes the license's own channel, by channelID, over the default channel and the license-wide domain", () => {
    expect(proxyDomain({ channelID: 'c-beta', channels: [stable, beta], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.beta.acme.com');
    expect(proxyDomain({ channelID: 'c-stable', channels: [stable, beta], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.stable.acme.com');
  });

  it('takes the default channel when no channel has the license channelID, or the license has none', () => {
    expect(proxyDomain({ channelID: 'c-gone', channels: [beta, stable], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.stable.acme.com');
    expect(proxyDomain({ channels: [beta, stable], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.stable.acme.com');
    expect(proxyDomain({ channelID: '', channels: [beta, stable] })).toBe('proxy.stable.acme.com');
  });

  it("falls back to the license-wide domain when the license's channel has none, even if the default channel has one", () => {
    for (const own of [bare, { ...bare, replicatedProxyDomain: '' }, { ...bare, replicatedProxyDomain: '  ' }, { ...bare, replicatedProxyDomain: 7 }]) {
      expect(proxyDomain({ channelID: 'c-bare', channels: [stable, own], replicatedProxyDomain: 'proxy.acme.com' }), JSON.stringify(own)).toBe('proxy.acme.com');
    }
    expect(proxyDomain({ channelID: 'c-gone', channels: [beta], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.acme.com');
    expect(proxyDomain({ channels: [], replicatedProxyDomain: 'proxy.acme.com' })).toBe('proxy.acme.com');
  });

  it('is undefined, leaving the configuration default, when neither the channel nor the license has one', () => {
    expect(proxyDomain({ channelID: 'c-bare', channels: [bare] })).toBeUndefined();
    expect(proxyDomain({ channelID: 'c-bare', channels: [bare], replicatedProxyDomain: ' ' })).toBeUndefined();
    expect(parseLicense(licenseYaml({ channelID: 'c-bare', channels: [bare] }))).not.toHaveProperty('proxyDomain');
  });

  it('trims the channel domain', () => {
    expect(proxyDomain({ channelID: 'c-beta', channels: [{ ...beta, replicatedProxyDomain: ' proxy.beta.acme.com ' }] })).toBe('proxy.beta.acme.com');
  });

  it('ignores channel data of the wrong shape instead of failing', () => {
    const wellFormed = { replicatedProxyDomain: 'proxy.acme.com' };
    for (const channels of ['c-beta', 7, { 'c-beta': beta }, null, [null, 'c-beta', 7, ['c-beta'], [beta]]]) {
      expect(proxyDomain({ ...wellFormed, channelID: 'c-beta', channels }), JSON.stringify(channels)).toBe('proxy.acme.com');
    }
    // A non-string channelID matches nothing; only a literal true marks the default channel.
    expect(proxyDomain({ ...wellFormed, channelID: ['c-beta'], channels: [beta, { ...stable, isDefault: 'true' }] })).toBe('proxy.acme.com');
    expect(proxyDomain({ ...wellFormed, channelID: { id: 'c-beta' }, channels: ['x', stable, beta] })).toBe('proxy.stable.acme.com');
  });

  it('never fails, whatever the channel data (property)', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('c-1', 'c-2'));
    const entry = fc.oneof(value, fc.record({ channelID: value, isDefault: value, replicatedProxyDomain: value }, { requiredKeys: [] }));
    fc.assert(
      fc.property(fc.oneof(value, fc.array(entry, { maxLength: 4 }), fc.dictionary(fc.string(), entry, { maxKeys: 2 })), value, fc.oneof(value, fc.constant(undefined)), (channels, channelID, top) => {
        const text = licenseYaml({ channels, channelID, ...(typeof top === 'string' ? { replicatedProxyDomain: top } : {}) });
        const domain = parseLicense(text).proxyDomain;
        expect(domain === undefined || (typeof domain === 'string' && domain.trim() === domain && domain !== '')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('expiry', () => {
  const license = parseLicense(licenseYaml({ customerName: 'Acme Corp', expiresAt: '2030-01-01T00:00:00Z' }));
  const at = new Date('2030-01-01T00:00:00Z');

  it('is expired from the expiry instant on', () => {
    expect(isExpired(license, new Date(at.getTime() - 1))).toBe(false);
    expect(isExpired(license, at)).toBe(true);
    expect(isExpired(license, new Date(at.getTime() + 1))).toBe(true);
  });

  it('never expires without an expiry time', () => {
    const forever = parseLicense(licenseYaml());
    expect(isExpired(forever, new Date('9999-12-31T23:59:59Z'))).toBe(false);
    expect(expiryWarning(forever, new Date('9999-12-31T23:59:59Z'))).toBeUndefined();
  });

  it('warns only once expired, naming the customer, the time and the consequence, not the license ID', () => {
    expect(expiryWarning(license, new Date(at.getTime() - 1))).toBeUndefined();
    const warning = expiryWarning(license, new Date('2031-01-01T00:00:00Z'));
    expect(warning).toBe('pullgate: the license for Acme Corp expired at 2030-01-01T00:00:00.000Z; the proxy will refuse pulls');
    expect(warning).not.toContain(LICENSE_ID);
  });

  it('names the app when the license has no customer name', () => {
    const text = stringify({ apiVersion: 'kots.io/v1beta1', kind: 'License', spec: { licenseID: 'x', appSlug: 'my-app', entitlements: { expires_at: { value: '2020-01-01T00:00:00Z' } } } });
    expect(expiryWarning(parseLicense(text), new Date('2021-01-01T00:00:00Z'))).toMatch(/^pullgate: the license for my-app expired/);
  });
});
