import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LicenseError, expiryWarning, isExpired, parseLicense } from '../../../src/license/license.ts';
import { LICENSE_ID, licenseYaml } from '../helpers/fixtures.ts';

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
      'expected apiVersion kots.io/v1beta1 and kind License',
      'spec.licenseID is required',
      'spec.appSlug is required',
      'spec.entitlements.expires_at.value "soon" is not an RFC 3339 time',
    ]);
  });

  it('rejects text that is not YAML, or not a mapping', () => {
    expect(problemsOf('spec: [unclosed')[0]).toMatch(/^not valid YAML/);
    expect(problemsOf('')).toContain('spec.licenseID is required');
    expect(problemsOf('- a\n- b\n')).toContain('expected apiVersion kots.io/v1beta1 and kind License');
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
