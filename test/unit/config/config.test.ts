import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_OPT_IN_LABEL,
  DEFAULT_PROXY_DOMAIN,
  DEFAULT_REGISTRY_DOMAIN,
  effectiveSettings,
  loadConfig,
  validateConfig,
  type PullgateConfig,
} from '../../../src/config.ts';
import { parseLicense, type License } from '../../../src/license/license.ts';
import { LICENSE_ID, configObject, licenseYaml, tempDir, writeConfig, writeLicense, type LicenseFields } from '../helpers/fixtures.ts';

const license = (fields: LicenseFields = {}): License => parseLicense(licenseYaml(fields));
const MINIMAL = { license: { file: '/etc/pullgate/license.yaml' }, privateRegistries: ['quay.io/acme'] };

function validate(raw: unknown, lic: License | undefined = license()): { config: PullgateConfig; problems: string[] } {
  const problems: string[] = [];
  const config = validateConfig(raw, lic, problems);
  return { config, problems };
}

function settingsOf(raw: Record<string, unknown>, fields: LicenseFields = {}) {
  const { config, problems } = validate(raw, license(fields));
  expect(problems).toEqual([]);
  return effectiveSettings(config, license(fields));
}

describe('validateConfig defaults', () => {
  it('accepts the minimal configuration and fills in the defaults', () => {
    const { config, problems } = validate(MINIMAL);
    expect(problems).toEqual([]);
    expect(config).toEqual({
      registryDomain: DEFAULT_REGISTRY_DOMAIN,
      licenseFile: '/etc/pullgate/license.yaml',
      privateRegistries: [{ host: 'quay.io', pathSegments: ['acme'] }],
      namespaces: { additional: [], all: false, optInLabel: { key: 'pullgate.dev/inject', value: 'enabled' }, exclude: ['kube-system'] },
    });
    expect(DEFAULT_REGISTRY_DOMAIN).toBe('registry.replicated.com');
    expect(DEFAULT_OPT_IN_LABEL).toBe('pullgate.dev/inject=enabled');
  });

  it('takes proxyDomain from the license, then proxy.replicated.com; the config wins over both', () => {
    expect(settingsOf(MINIMAL).proxyDomain).toBe(DEFAULT_PROXY_DOMAIN);
    expect(DEFAULT_PROXY_DOMAIN).toBe('proxy.replicated.com');
    expect(settingsOf(MINIMAL, { replicatedProxyDomain: 'proxy.vendor.com' }).proxyDomain).toBe('proxy.vendor.com');
    expect(settingsOf({ ...MINIMAL, proxyDomain: 'proxy.example.com' }, { replicatedProxyDomain: 'proxy.vendor.com' }).proxyDomain).toBe('proxy.example.com');
  });

  it('takes appSlug from the license unless configured, and names the pull secret after it', () => {
    expect(settingsOf(MINIMAL, { appSlug: 'acme-platform' })).toEqual({
      proxyDomain: DEFAULT_PROXY_DOMAIN,
      registryDomain: DEFAULT_REGISTRY_DOMAIN,
      appSlug: 'acme-platform',
      pullSecretName: 'acme-platform-registry',
    });
    expect(settingsOf({ ...MINIMAL, appSlug: 'other' }, { appSlug: 'acme-platform' })).toMatchObject({ appSlug: 'other', pullSecretName: 'other-registry' });
    expect(settingsOf({ ...MINIMAL, pullSecret: { name: 'custom' } }).pullSecretName).toBe('custom');
  });

  it('reads the full example configuration of the design', () => {
    const { config, problems } = validate({
      proxyDomain: 'proxy.example.com',
      registryDomain: 'registry.example.com',
      appSlug: 'my-app',
      license: { file: '/etc/pullgate/license.yaml' },
      privateRegistries: ['quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
      pullSecret: { name: 'my-app-registry' },
      namespaces: { application: 'my-app', additional: ['monitoring'], optInLabel: 'pullgate.dev/inject=enabled', exclude: ['kube-system'] },
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      proxyDomain: 'proxy.example.com',
      registryDomain: 'registry.example.com',
      appSlug: 'my-app',
      pullSecretName: 'my-app-registry',
      namespaces: { application: 'my-app', additional: ['monitoring'], all: false, exclude: ['kube-system'] },
    });
    expect(config.privateRegistries.map((p) => [p.host, ...p.pathSegments].join('/'))).toEqual(['quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com']);
  });

  it('normalizes registry hosts: lower case, Docker Hub spellings, a trailing slash', () => {
    const { config, problems } = validate({ ...MINIMAL, privateRegistries: ['Quay.IO/acme', 'index.docker.io/acme', 'registry-1.docker.io/other', 'ghcr.io/acme/'] });
    expect(problems).toEqual([]);
    expect(config.privateRegistries).toEqual([
      { host: 'quay.io', pathSegments: ['acme'] },
      { host: 'docker.io', pathSegments: ['acme'] },
      { host: 'docker.io', pathSegments: ['other'] },
      { host: 'ghcr.io', pathSegments: ['acme'] },
    ]);
  });
});

describe('validateConfig namespaces', () => {
  it('always excludes kube-system, once', () => {
    expect(validate({ ...MINIMAL, namespaces: { exclude: ['monitoring-x'] } }).config.namespaces.exclude).toEqual(['kube-system', 'monitoring-x']);
    expect(validate({ ...MINIMAL, namespaces: { exclude: ['kube-system', 'other'] } }).config.namespaces.exclude).toEqual(['kube-system', 'other']);
  });

  it('reads additional ["*"] as every namespace', () => {
    const { config, problems } = validate({ ...MINIMAL, namespaces: { application: 'my-app', additional: ['*'] } });
    expect(problems).toEqual([]);
    expect(config.namespaces).toMatchObject({ application: 'my-app', all: true, additional: [] });
  });

  it('refuses "*" combined with names', () => {
    const { problems } = validate({ ...MINIMAL, namespaces: { additional: ['*', 'monitoring'] } });
    expect(problems).toEqual(['namespaces.additional: "*" means every namespace and cannot be combined with names']);
  });

  it('refuses a namespace that is both served and excluded, kube-system included', () => {
    expect(validate({ ...MINIMAL, namespaces: { application: 'my-app', exclude: ['my-app'] } }).problems).toEqual(['namespaces: "my-app" is both served and excluded']);
    expect(validate({ ...MINIMAL, namespaces: { additional: ['kube-system'] } }).problems).toEqual(['namespaces: "kube-system" is both served and excluded']);
  });

  it('parses the opt-in label and refuses malformed ones', () => {
    expect(validate({ ...MINIMAL, namespaces: { optInLabel: 'example.com/team=platform' } }).config.namespaces.optInLabel).toEqual({ key: 'example.com/team', value: 'platform' });
    for (const bad of ['no-equals-sign', 'bad key=x', 'key=bad value', '=x', 'Example.com/x=y', `k=${'v'.repeat(64)}`]) {
      expect(validate({ ...MINIMAL, namespaces: { optInLabel: bad } }).problems, bad).toEqual([`namespaces.optInLabel: "${bad}" must be key=value with a valid label key and value`]);
    }
  });

  it('refuses invalid namespace names', () => {
    const { problems } = validate({ ...MINIMAL, namespaces: { application: 'My_App', additional: ['ok', 'a.b'], exclude: ['-x'] } });
    expect(problems).toEqual([
      'namespaces.application: "My_App" is not a valid namespace name',
      'namespaces.additional: "a.b" is not a valid namespace name',
      'namespaces.exclude: "-x" is not a valid namespace name',
    ]);
  });
});

describe('validateConfig problems', () => {
  it('lists every problem at once', () => {
    const { problems } = validate({
      proxyDomain: 'https://proxy.example.com',
      registryDomain: 'registry.example.com/path',
      proxyDomian: 'typo',
      privateRegistries: ['quay.io/acme', 'registry.acme.com:5000/acme', '[::1]/acme', 'acme', 'https://quay.io/x', 'quay.io/Acme', 7],
      pullSecret: { name: 'Bad_Name', extra: 1 },
      namespaces: { optInLabel: 'not a label', additional: 'monitoring', bogus: true },
    });
    const expected = [
      /^proxyDomian: unknown setting$/,
      /^proxyDomain "https:\/\/proxy\.example\.com" is not a registry host/,
      /^registryDomain: "registry\.example\.com\/path" is not a registry host/,
      /^license\.file: required/,
      /^privateRegistries\[1\] "registry\.acme\.com:5000\/acme": host "registry\.acme\.com:5000" has a port/,
      /^privateRegistries\[2\] "\[::1\]\/acme": host "\[::1\]" is an IPv6 address/,
      /^privateRegistries\[3\] "acme": .*Docker Hub namespace/,
      /^privateRegistries\[4\] "https:\/\/quay\.io\/x": is a URL/,
      /^privateRegistries\[5\] "quay\.io\/Acme": path segment "Acme" must be lower case/,
      /^privateRegistries\[6\]: must be a string$/,
      /^pullSecret\.extra: unknown setting$/,
      /^pullSecret\.name: "Bad_Name" is not a valid Secret name$/,
      /^namespaces\.bogus: unknown setting$/,
      /^namespaces\.additional: must be a list of non-empty strings$/,
      /^namespaces\.optInLabel: "not a label" must be key=value/,
    ];
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });

  it('requires a mapping, a license file and a non-empty privateRegistries list', () => {
    expect(validate('just a string').problems).toEqual([
      'the configuration must be a YAML mapping',
      'license.file: required (path to the License document)',
      'privateRegistries: required, a non-empty list of registry hosts or host/path prefixes',
    ]);
    expect(validate({ license: { file: '' }, privateRegistries: [] }).problems).toEqual([
      'license.file: must be a non-empty string',
      'privateRegistries: required, a non-empty list of registry hosts or host/path prefixes',
    ]);
  });

  it('checks what the license defaults: its appSlug and proxy domain, and the derived Secret name', () => {
    expect(validate(MINIMAL, license({ appSlug: 'My-App' })).problems).toEqual([
      expect.stringMatching(/^appSlug "My-App" must be lower case \(taken from the license's spec.appSlug/),
      'pullSecret.name: the default "My-App-registry" is not a valid Secret name; set pullSecret.name',
    ]);
    expect(validate(MINIMAL, license({ replicatedProxyDomain: 'proxy' })).problems).toEqual([expect.stringMatching(/"proxy".*taken from the license's replicatedProxyDomain/)]);
    // A valid path component that is not a valid Secret name.
    expect(validate(MINIMAL, license({ appSlug: 'my_app' })).problems).toEqual([
      'pullSecret.name: the default "my_app-registry" is not a valid Secret name; set pullSecret.name',
    ]);
    expect(validate({ ...MINIMAL, pullSecret: { name: 'ok-name' } }, license({ appSlug: 'my_app' })).problems).toEqual([]);
    // A configured proxyDomain makes the license's irrelevant.
    expect(validate({ ...MINIMAL, proxyDomain: 'proxy.example.com' }, license({ replicatedProxyDomain: 'proxy' })).problems).toEqual([]);
  });

  it('reports a bad configured appSlug even when no license could be read', () => {
    const problems: string[] = [];
    validateConfig({ ...MINIMAL, appSlug: 'Bad/Slug' }, undefined, problems);
    expect(problems).toEqual([expect.stringMatching(/^appSlug "Bad\/Slug" must be a single path component/)]);
  });

  it('refuses a proxyDomain that would read as a Docker Hub path or is Docker Hub', () => {
    for (const proxyDomain of ['proxy', 'docker.io', 'proxy.example.com/path']) {
      expect(validate({ ...MINIMAL, proxyDomain }).problems, proxyDomain).toHaveLength(1);
    }
    for (const proxyDomain of ['localhost:5000', 'proxy.example.com:8443', 'PROXY.example.com']) {
      expect(validate({ ...MINIMAL, proxyDomain }).problems, proxyDomain).toEqual([]);
    }
  });

  it('throws ConfigError from effectiveSettings when a reloaded license makes the settings invalid', () => {
    const { config } = validate(MINIMAL);
    expect(() => effectiveSettings(config, license({ appSlug: 'Upper' }))).toThrow(ConfigError);
  });

  it('never throws, and never quotes the license ID, whatever the document (property)', () => {
    const lic = license();
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant('*')), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom('file', 'name', 'application', 'additional', 'optInLabel', 'exclude', 'x'), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.integer())),
    );
    const keys = fc.constantFrom('proxyDomain', 'registryDomain', 'appSlug', 'license', 'privateRegistries', 'pullSecret', 'namespaces', 'other');
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(keys, value), value), (raw) => {
        const problems: string[] = [];
        validateConfig(raw, lic, problems);
        expect(problems.join('\n')).not.toContain(LICENSE_ID);
      }),
      { numRuns: 500 },
    );
  });
});

describe('loadConfig', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    dir = tempDir('pullgate-config-');
  });
  afterAll(() => dir.remove());

  async function problemsOf(path: string): Promise<{ problems: string[]; message: string }> {
    const err = await loadConfig(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return { problems: (err as ConfigError).problems, message: (err as ConfigError).message };
  }

  it('loads the configuration, the license and the effective settings, frozen', async () => {
    const licenseFile = writeLicense(dir.path, { replicatedProxyDomain: 'proxy.vendor.com', expiresAt: '2030-01-01T00:00:00Z' }, 'ok-license.yaml');
    const path = writeConfig(dir.path, configObject(licenseFile, { proxyDomain: undefined }), 'ok.yaml');
    const loaded = await loadConfig(path);
    expect(loaded.license).toMatchObject({ licenseID: LICENSE_ID, appSlug: 'my-app', expiresAt: new Date('2030-01-01T00:00:00Z') });
    expect(loaded.settings).toEqual({ proxyDomain: 'proxy.vendor.com', registryDomain: 'registry.example.com', appSlug: 'my-app', pullSecretName: 'my-app-registry' });
    expect(loaded.config.licenseFile).toBe(licenseFile);
    expect(Object.isFrozen(loaded)).toBe(true);
    expect(Object.isFrozen(loaded.config)).toBe(true);
    expect(Object.isFrozen(loaded.settings)).toBe(true);
  });

  it('names a missing file', async () => {
    const { problems, message } = await problemsOf(`${dir.path}/absent.yaml`);
    expect(problems).toEqual(['cannot read the configuration file: ENOENT']);
    expect(message).toContain('absent.yaml');
  });

  it('names invalid YAML by position', async () => {
    const { problems } = await problemsOf(writeConfig(dir.path, 'proxyDomain: [unclosed\nlicense: x\n', 'bad-yaml.yaml'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^not valid YAML: .*line \d+/);
  });

  it('lists license problems and config problems together, without the license ID', async () => {
    const licenseFile = `${dir.path}/broken-license.yaml`;
    writeConfig(dir.path, `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: ${LICENSE_ID}\n  entitlements: {expires_at: {value: someday}}\n`, 'broken-license.yaml');
    const path = writeConfig(dir.path, configObject(licenseFile, { proxyDomain: 'https://x', unknownThing: 1 }), 'both-bad.yaml');
    const { problems, message } = await problemsOf(path);
    expect(problems).toEqual([
      `license.file "${licenseFile}": spec.appSlug is required`,
      `license.file "${licenseFile}": spec.entitlements.expires_at.value "someday" is not an RFC 3339 time`,
      'unknownThing: unknown setting',
      expect.stringMatching(/^proxyDomain "https:\/\/x" is not a registry host/),
    ]);
    expect(message).toMatch(/: 4 problem\(s\):\n {2}- /);
    expect(message).not.toContain(LICENSE_ID);
  });

  it('names a license file that cannot be read', async () => {
    const path = writeConfig(dir.path, configObject(`${dir.path}/no-license.yaml`), 'no-license-config.yaml');
    const { problems } = await problemsOf(path);
    expect(problems).toEqual([`license.file "${dir.path}/no-license.yaml": cannot read: ENOENT`]);
  });
});

describe('privateRegistries and registryDomain', () => {
  it('refuses a private registry on the vendor registry, whose images are never proxied', () => {
    const problems: string[] = [];
    validateConfig({ ...MINIMAL, registryDomain: 'registry.example.com', privateRegistries: ['quay.io/acme', 'REGISTRY.example.com/my-app'] }, undefined, problems);
    expect(problems).toEqual([expect.stringMatching(/^privateRegistries\[1\] "REGISTRY.example.com\/my-app": is on registryDomain registry.example.com/)]);
  });
});
