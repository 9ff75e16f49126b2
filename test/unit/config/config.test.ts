import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { DEFAULT_PROXY_DOMAIN, effectiveSettings } from '../../../src/config/license-settings.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { DEFAULT_OPT_IN_LABEL, DEFAULT_REGISTRY_DOMAIN, checkConfig, validateConfig, type PullgateConfig } from '../../../src/config/schema.ts';
import { parseLicense, type License } from '../../../src/license/license.ts';
import { LICENSE_ID, configObject, licenseYaml, tempDir, writeConfig, writeLicense, type LicenseFields } from '../helpers/fixtures.ts';

const license = (fields: LicenseFields = {}): License => parseLicense(licenseYaml(fields));
const MINIMAL = { license: { file: '/etc/pullgate/license.yaml' }, privateRegistries: ['quay.io/acme'] };

/** The configuration `raw` is, asserting it has no problem. */
function valid(raw: unknown, lic: License | undefined = license()): PullgateConfig {
  const checked = checkConfig(raw, lic);
  expect(checked.problems).toEqual([]);
  return checked.config!;
}

function problemsOf(raw: unknown, lic: License | undefined = license()): readonly string[] {
  return checkConfig(raw, lic).problems;
}

function settingsOf(raw: Record<string, unknown>, fields: LicenseFields = {}) {
  return effectiveSettings(valid(raw, license(fields)), license(fields));
}

describe('validateConfig defaults', () => {
  it('accepts the minimal configuration and fills in the defaults', () => {
    expect(valid(MINIMAL)).toEqual({
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
    const config = valid({
      proxyDomain: 'proxy.example.com',
      registryDomain: 'registry.example.com',
      appSlug: 'my-app',
      license: { file: '/etc/pullgate/license.yaml' },
      privateRegistries: ['quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
      pullSecret: { name: 'my-app-registry' },
      namespaces: { application: 'my-app', additional: ['monitoring'], optInLabel: 'pullgate.dev/inject=enabled', exclude: ['kube-system'] },
    });
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
    expect(valid({ ...MINIMAL, privateRegistries: ['Quay.IO/acme', 'index.docker.io/acme', 'registry-1.docker.io/other', 'ghcr.io/acme/'] }).privateRegistries).toEqual([
      { host: 'quay.io', pathSegments: ['acme'] },
      { host: 'docker.io', pathSegments: ['acme'] },
      { host: 'docker.io', pathSegments: ['other'] },
      { host: 'ghcr.io', pathSegments: ['acme'] },
    ]);
  });
});

describe('validateConfig namespaces', () => {
  it('always excludes kube-system, once', () => {
    expect(valid({ ...MINIMAL, namespaces: { exclude: ['monitoring-x'] } }).namespaces.exclude).toEqual(['kube-system', 'monitoring-x']);
    expect(valid({ ...MINIMAL, namespaces: { exclude: ['kube-system', 'other'] } }).namespaces.exclude).toEqual(['kube-system', 'other']);
  });

  it('reads additional ["*"] as every namespace', () => {
    expect(valid({ ...MINIMAL, namespaces: { application: 'my-app', additional: ['*'] } }).namespaces).toMatchObject({ application: 'my-app', all: true, additional: [] });
  });

  it('refuses "*" combined with names', () => {
    expect(problemsOf({ ...MINIMAL, namespaces: { additional: ['*', 'monitoring'] } })).toEqual(['namespaces.additional: "*" means every namespace and cannot be combined with names']);
  });

  it('refuses a namespace that is both served and excluded, kube-system included', () => {
    expect(problemsOf({ ...MINIMAL, namespaces: { application: 'my-app', exclude: ['my-app'] } })).toEqual(['namespaces: "my-app" is both served and excluded']);
    expect(problemsOf({ ...MINIMAL, namespaces: { additional: ['kube-system'] } })).toEqual(['namespaces: "kube-system" is both served and excluded']);
  });

  it('parses the opt-in label and refuses malformed ones', () => {
    expect(valid({ ...MINIMAL, namespaces: { optInLabel: 'example.com/team=platform' } }).namespaces.optInLabel).toEqual({ key: 'example.com/team', value: 'platform' });
    for (const bad of ['no-equals-sign', 'bad key=x', 'key=bad value', '=x', 'Example.com/x=y', `k=${'v'.repeat(64)}`]) {
      expect(problemsOf({ ...MINIMAL, namespaces: { optInLabel: bad } }), bad).toEqual([`namespaces.optInLabel: "${bad}" must be key=value with a valid label key and value`]);
    }
  });

  it('refuses invalid namespace names', () => {
    expect(problemsOf({ ...MINIMAL, namespaces: { application: 'My_App', additional: ['ok', 'a.b'], exclude: ['-x'] } })).toEqual([
      'namespaces.application: "My_App" is not a valid namespace name',
      'namespaces.additional: "a.b" is not a valid namespace name',
      'namespaces.exclude: "-x" is not a valid namespace name',
    ]);
  });
});

describe('validateConfig problems', () => {
  it('lists every problem at once', () => {
    const problems = problemsOf({
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
    const missing = ['license.file: required (path to the License document)', 'privateRegistries: required (a non-empty list of registry hosts or host/path prefixes)'];
    expect(problemsOf('just a string')).toEqual(['the configuration must be a YAML mapping', ...missing]);
    expect(problemsOf(null)).toEqual(['the configuration must be a YAML mapping', ...missing]);
    expect(problemsOf({})).toEqual(missing);
    expect(problemsOf({ license: { file: '' }, privateRegistries: [] })).toEqual([
      'license.file: must be a non-empty string',
      'privateRegistries: must be a non-empty list of registry hosts or host/path prefixes',
    ]);
    expect(problemsOf({ ...MINIMAL, privateRegistries: 'quay.io/acme' })).toEqual(['privateRegistries: must be a non-empty list of registry hosts or host/path prefixes']);
  });

  it('checks what the license defaults: its appSlug and proxy domain, and the derived Secret name', () => {
    expect(problemsOf(MINIMAL, license({ appSlug: 'My-App' }))).toEqual([
      expect.stringMatching(/^appSlug "My-App" must be lower case \(taken from the license's spec.appSlug/),
      'pullSecret.name: the default "My-App-registry" is not a valid Secret name; set pullSecret.name',
    ]);
    expect(problemsOf(MINIMAL, license({ replicatedProxyDomain: 'proxy' }))).toEqual([expect.stringMatching(/"proxy".*taken from the license's replicatedProxyDomain/)]);
    // A valid path component that is not a valid Secret name.
    expect(problemsOf(MINIMAL, license({ appSlug: 'my_app' }))).toEqual([
      'pullSecret.name: the default "my_app-registry" is not a valid Secret name; set pullSecret.name',
    ]);
    expect(problemsOf({ ...MINIMAL, pullSecret: { name: 'ok-name' } }, license({ appSlug: 'my_app' }))).toEqual([]);
    // A configured proxyDomain makes the license's irrelevant.
    expect(problemsOf({ ...MINIMAL, proxyDomain: 'proxy.example.com' }, license({ replicatedProxyDomain: 'proxy' }))).toEqual([]);
  });

  it('reports a bad configured appSlug even when no license could be read', () => {
    expect(problemsOf({ ...MINIMAL, appSlug: 'Bad/Slug' }, undefined)).toEqual([expect.stringMatching(/^appSlug "Bad\/Slug" must be a single path component/)]);
    // With the license, the slug that failed is not also blamed for the pull secret name it would give.
    expect(problemsOf({ ...MINIMAL, appSlug: 'Bad/Slug' })).toEqual([expect.stringMatching(/^appSlug "Bad\/Slug" must be a single path component/)]);
  });

  it('refuses a proxyDomain that would read as a Docker Hub path or is Docker Hub', () => {
    for (const proxyDomain of ['proxy', 'docker.io', 'proxy.example.com/path']) {
      expect(problemsOf({ ...MINIMAL, proxyDomain }), proxyDomain).toHaveLength(1);
    }
    for (const proxyDomain of ['localhost:5000', 'proxy.example.com:8443', 'PROXY.example.com']) {
      expect(problemsOf({ ...MINIMAL, proxyDomain }), proxyDomain).toEqual([]);
    }
  });

  it('throws ConfigError from effectiveSettings when a reloaded license makes the settings invalid', () => {
    expect(() => effectiveSettings(valid(MINIMAL), license({ appSlug: 'Upper' }))).toThrow(ConfigError);
  });

  it('never throws, and never quotes the license ID, whatever the document (property)', () => {
    const lic = license();
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant('*')), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom('file', 'name', 'dockerConfigSecret', 'application', 'additional', 'optInLabel', 'exclude', 'x'), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.integer())),
    );
    const keys = fc.constantFrom('proxyDomain', 'registryDomain', 'appSlug', 'license', 'privateRegistries', 'pullSecret', 'credentials', 'namespaces', 'other', 'constructor');
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(keys, value), value), (raw) => {
        const checked = checkConfig(raw, lic);
        expect(checked.ok).toBe(checked.problems.length === 0);
        expect(checked.problems.join('\n')).not.toContain(LICENSE_ID);
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

  async function problemsOf(path: string): Promise<{ problems: readonly string[]; message: string }> {
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

  it('loads a kots.io/v1beta2 license, its channel proxy domain, and the credentials Secret', async () => {
    const licenseFile = writeLicense(
      dir.path,
      { apiVersion: 'kots.io/v1beta2', channelID: 'c-1', channels: [{ channelID: 'c-1', isDefault: true, replicatedProxyDomain: 'proxy.vendor.com' }] },
      'v1beta2.yaml',
    );
    const path = writeConfig(dir.path, configObject(licenseFile, { proxyDomain: undefined, credentials: { dockerConfigSecret: 'vendor-pull' } }), 'v1beta2-config.yaml');
    const loaded = await loadConfig(path);
    expect(loaded.settings.proxyDomain).toBe('proxy.vendor.com');
    expect(loaded.config.credentials).toEqual({ dockerConfigSecret: 'vendor-pull' });
    expect(Object.isFrozen(loaded.config.credentials)).toBe(true);
  });

  it('reads the license at the trimmed path the configuration keeps', async () => {
    const licenseFile = writeLicense(dir.path, {}, 'padded.yaml');
    const loaded = await loadConfig(writeConfig(dir.path, configObject(` ${licenseFile} `), 'padded-config.yaml'));
    expect(loaded.config.licenseFile).toBe(licenseFile);
    expect(loaded.license.licenseID).toBe(LICENSE_ID);
  });
});

describe('privateRegistries and registryDomain', () => {
  it('refuses a private registry on the vendor registry, whose images are never proxied', () => {
    expect(problemsOf({ ...MINIMAL, registryDomain: 'registry.example.com', privateRegistries: ['quay.io/acme', 'REGISTRY.example.com/my-app'] }, undefined)).toEqual([expect.stringMatching(/^privateRegistries\[1\] "REGISTRY.example.com\/my-app": is on registryDomain registry.example.com/)]);
  });
});

describe('credentials.dockerConfigSecret', () => {
  it('names the Secret whose .dockerconfigjson the pull secrets copy; absent, there is no credentials entry', () => {
    expect(valid({ ...MINIMAL, credentials: { dockerConfigSecret: ' vendor-pull.v1 ' } }).credentials).toEqual({ dockerConfigSecret: 'vendor-pull.v1' });
    expect(valid(MINIMAL)).not.toHaveProperty('credentials');
    expect(valid({ ...MINIMAL, credentials: null })).not.toHaveProperty('credentials');
    expect(valid({ ...MINIMAL, credentials: { dockerConfigSecret: null } })).not.toHaveProperty('credentials');
  });

  it('leaves the pull secret name and the license-derived settings as they are', () => {
    expect(settingsOf({ ...MINIMAL, credentials: { dockerConfigSecret: 'vendor-pull' } }, { appSlug: 'acme' })).toEqual({
      proxyDomain: DEFAULT_PROXY_DOMAIN,
      registryDomain: DEFAULT_REGISTRY_DOMAIN,
      appSlug: 'acme',
      pullSecretName: 'acme-registry',
    });
  });

  it('still requires the license file', () => {
    expect(problemsOf({ privateRegistries: ['quay.io/acme'], credentials: { dockerConfigSecret: 'vendor-pull' } })).toEqual(['license.file: required (path to the License document)']);
  });

  it('refuses a name that is not a valid Secret name', () => {
    for (const bad of ['Vendor-Pull', 'vendor_pull', '-vendor', 'vendor.', `a${'b'.repeat(253)}`]) {
      expect(problemsOf({ ...MINIMAL, credentials: { dockerConfigSecret: bad } }), bad).toEqual([`credentials.dockerConfigSecret: "${bad}" is not a valid Secret name`]);
    }
    for (const bad of ['', '  ', 7, ['vendor-pull'], { name: 'vendor-pull' }]) {
      expect(problemsOf({ ...MINIMAL, credentials: { dockerConfigSecret: bad } }), JSON.stringify(bad)).toEqual(['credentials.dockerConfigSecret: must be a non-empty string']);
    }
  });

  it('refuses a credentials entry that is not a mapping, or holds anything else', () => {
    expect(problemsOf({ ...MINIMAL, credentials: 'vendor-pull' })).toEqual(['credentials: must be a mapping']);
    expect(problemsOf({ ...MINIMAL, credentials: { dockerConfigSecret: 'vendor-pull', secretName: 'x' } })).toEqual(['credentials.secretName: unknown setting']);
  });
});

describe('the settings table', () => {
  it('refuses unknown keys at every level, prototype names included', () => {
    const raw = JSON.parse(
      JSON.stringify({
        ...MINIMAL,
        proxydomain: 'x',
        license: { file: '/l', path: '/l' },
        pullSecret: { name: 'ok', namespace: 'x' },
        credentials: { dockerConfigSecret: 'ok', key: 'x' },
        namespaces: { application: 'my-app', include: ['x'] },
        constructor: 1,
        toString: 'x',
      }).replace('"toString"', '"__proto__"'),
    ) as unknown;
    expect(problemsOf(raw)).toEqual([
      'proxydomain: unknown setting',
      'constructor: unknown setting',
      '__proto__: unknown setting',
      'license.path: unknown setting',
      'pullSecret.namespace: unknown setting',
      'credentials.key: unknown setting',
      'namespaces.include: unknown setting',
    ]);
    expect(problemsOf({ ...MINIMAL, namespaces: { hasOwnProperty: true, valueOf: 1 } })).toEqual(['namespaces.hasOwnProperty: unknown setting', 'namespaces.valueOf: unknown setting']);
  });

  it('treats null as absent: the default applies', () => {
    const config = valid({ ...MINIMAL, proxyDomain: null, registryDomain: null, pullSecret: null, namespaces: { additional: null, exclude: null, optInLabel: null } });
    expect(config).toEqual(valid(MINIMAL));
    expect(valid({ ...MINIMAL, namespaces: null }).namespaces).toEqual(valid(MINIMAL).namespaces);
  });

  it('refuses a section that is not a mapping, and still names what it lacks', () => {
    expect(problemsOf({ ...MINIMAL, license: '/etc/pullgate/license.yaml' })).toEqual(['license: must be a mapping', 'license.file: required (path to the License document)']);
    expect(problemsOf({ ...MINIMAL, pullSecret: 'my-app-registry' })).toEqual(['pullSecret: must be a mapping']);
    expect(problemsOf({ ...MINIMAL, namespaces: ['my-app'] })).toEqual(['namespaces: must be a mapping']);
  });

  it('lists every problem at once, those of the settings the license defaults and of credentials included', () => {
    expect(problemsOf({ ...MINIMAL, privateRegistries: ['quay.io/acme', 7, 'registry.replicated.com/x'], credentials: { dockerConfigSecret: 'Bad' }, extra: 1 }, license({ appSlug: 'My-App' }))).toEqual([
      'extra: unknown setting',
      'privateRegistries[1]: must be a string',
      expect.stringMatching(/^privateRegistries\[2\] "registry.replicated.com\/x": is on registryDomain registry.replicated.com/),
      'credentials.dockerConfigSecret: "Bad" is not a valid Secret name',
      expect.stringMatching(/^appSlug "My-App" must be lower case \(taken from the license's spec.appSlug/),
      'pullSecret.name: the default "My-App-registry" is not a valid Secret name; set pullSecret.name',
    ]);
  });

  it('returns a frozen configuration, to the last list', () => {
    const config = valid({ ...MINIMAL, credentials: { dockerConfigSecret: 'vendor-pull' }, namespaces: { application: 'my-app', additional: ['monitoring'] } });
    for (const part of [config, config.privateRegistries, config.privateRegistries[0], config.credentials, config.namespaces, config.namespaces.additional, config.namespaces.exclude, config.namespaces.optInLabel]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
  });
});

describe('validateConfig and checkConfig', () => {
  it('validateConfig returns the configuration checkConfig accepts', () => {
    expect(validateConfig(MINIMAL, license())).toEqual(checkConfig(MINIMAL, license()).config);
    expect(validateConfig(MINIMAL)).toEqual(valid(MINIMAL, undefined));
  });

  it('validateConfig throws a ConfigError listing every problem checkConfig finds', () => {
    const raw = { ...MINIMAL, proxyDomian: 'x', namespaces: { exclude: 'kube-system' } };
    const checked = checkConfig(raw, license());
    expect(checked).toEqual({ ok: false, problems: ['proxyDomian: unknown setting', 'namespaces.exclude: must be a list of non-empty strings'] });
    let error: unknown;
    try {
      validateConfig(raw, license());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(checked.problems);
    expect((error as ConfigError).message).toBe('configuration: 2 problem(s):\n  - proxyDomian: unknown setting\n  - namespaces.exclude: must be a list of non-empty strings');
  });

  it('reports a private registry on registryDomain alongside a malformed entry', () => {
    expect(problemsOf({ ...MINIMAL, privateRegistries: ['https://quay.io', 'registry.replicated.com'] })).toEqual([
      expect.stringMatching(/^privateRegistries\[0\] "https:\/\/quay.io": is a URL/),
      expect.stringMatching(/^privateRegistries\[1\] "registry.replicated.com": is on registryDomain registry.replicated.com/),
    ]);
  });

  it('takes the proxy domain of the license channel before the license-wide one', () => {
    const channels = [
      { channelID: 'c-stable', channelSlug: 'stable', isDefault: true, replicatedProxyDomain: 'proxy.stable.vendor.com' },
      { channelID: 'c-beta', channelSlug: 'beta', replicatedProxyDomain: 'proxy.beta.vendor.com' },
    ];
    expect(settingsOf(MINIMAL, { channelID: 'c-beta', channels, replicatedProxyDomain: 'proxy.vendor.com' }).proxyDomain).toBe('proxy.beta.vendor.com');
    expect(settingsOf({ ...MINIMAL, proxyDomain: 'proxy.example.com' }, { channelID: 'c-beta', channels }).proxyDomain).toBe('proxy.example.com');
    expect(problemsOf(MINIMAL, license({ channelID: 'c-beta', channels: [{ channelID: 'c-beta', replicatedProxyDomain: 'proxy' }] }))).toEqual([
      expect.stringMatching(/"proxy".*taken from the license's replicatedProxyDomain/),
    ]);
  });
});
