import { describe, expect, it } from 'vitest';
import {
  formatRegistryPrefix,
  parseRegistryPrefix,
  prefixCovers,
  validateAppSlug,
  validateProxyDomain,
  type RegistryPrefix,
} from '../../../src/image/registry-prefix.ts';

function prefix(entry: string): RegistryPrefix {
  const parsed = parseRegistryPrefix(entry);
  if (!parsed.ok) throw new Error(`${entry}: ${parsed.problems.join('; ')}`);
  return parsed.prefix;
}

function problems(entry: string): readonly string[] {
  const parsed = parseRegistryPrefix(entry);
  if (parsed.ok) throw new Error(`${entry} parsed as ${formatRegistryPrefix(parsed.prefix)}`);
  return parsed.problems;
}

describe('parseRegistryPrefix: accepted entries', () => {
  it.each<[string, string, string[]]>([
    ['quay.io', 'quay.io', []],
    ['quay.io/acme', 'quay.io', ['acme']],
    ['quay.io/acme/team', 'quay.io', ['acme', 'team']],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com', []],
    ['docker.io/acme', 'docker.io', ['acme']],
    ['docker.io', 'docker.io', []],
    ['docker.io/library', 'docker.io', ['library']],
    // Docker Hub's other names, in any case: hosts in the config are case-insensitive.
    ['index.docker.io/acme', 'docker.io', ['acme']],
    ['registry-1.docker.io/acme', 'docker.io', ['acme']],
    ['Registry-1.Docker.IO/acme', 'docker.io', ['acme']],
    ['QUAY.IO/acme', 'quay.io', ['acme']],
    ['quay.io/acme/', 'quay.io', ['acme']],
    ['localhost/acme', 'localhost', ['acme']],
    ['10.0.0.1/team', '10.0.0.1', ['team']],
    ['xn--n3h.com/a.b_c__d--e', 'xn--n3h.com', ['a.b_c__d--e']],
  ])('%s → host %s, path %j', (entry, host, pathSegments) => {
    expect(prefix(entry)).toEqual({ host, pathSegments });
  });

  it('keeps a Docker Hub path as written (a namespace, not library/…)', () => {
    expect(formatRegistryPrefix(prefix('docker.io/acme'))).toBe('docker.io/acme');
    expect(formatRegistryPrefix(prefix('index.docker.io/nginx'))).toBe('docker.io/nginx');
  });

  it('returns a frozen value', () => {
    const p = prefix('quay.io/acme');
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.pathSegments)).toBe(true);
  });
});

describe('parseRegistryPrefix: refused entries', () => {
  it.each([
    ['', /is empty/],
    ['acme', /"acme" is not a registry host.*docker\.io\/acme/],
    ['acme/app', /"acme" is not a registry host/],
    ['quay.io:5000/acme', /host "quay\.io:5000" has a port, which cannot be proxied because .*path component.*":"/],
    ['localhost:5000', /has a port/],
    ['[::1]/acme', /host "\[::1\]" is an IPv6 address, which cannot be proxied because .*path component/],
    ['[2001:db8::1]:5000/acme', /is an IPv6 address/],
    ['quay.io:http/acme', /"quay\.io:http" is not a valid registry host/],
    ['https://quay.io/acme', /is a URL/],
    ['quay.io/Acme', /path segment "Acme" must be lower case/],
    ['quay.io//acme', /empty path segment/],
    ['/acme', /no registry host/],
    ['quay.io/acme:1.0', /must not contain a tag or digest/],
    [`quay.io/acme@sha256:${'f'.repeat(64)}`, /must not contain a tag or digest/],
    ['-quay.io/acme', /"-quay\.io" is not a valid registry host/],
    ['quay_io.com/acme', /is not a valid registry host/],
    ['quay.io/_acme', /path segment "_acme" is not a valid image path component/],
    ['quay.io/ acme', /white space/],
  ])('%s', (entry, pattern) => {
    const found = problems(entry);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(pattern);
  });

  it('lists every problem of an entry at once, each once', () => {
    expect(problems('quay.io:5000/Acme/b:1/c:2')).toEqual([
      expect.stringMatching(/has a port/),
      expect.stringMatching(/"Acme" must be lower case/),
      expect.stringMatching(/tag or digest/),
    ]);
  });
});

describe('prefixCovers', () => {
  it.each<[string, string, string, boolean]>([
    ['quay.io/acme', 'quay.io', 'acme/web', true],
    ['quay.io/acme', 'quay.io', 'acme', true],
    ['quay.io/acme', 'quay.io', 'acmecorp/web', false],
    ['quay.io/acme', 'quay.io', 'acm', false],
    ['quay.io/acme/web', 'quay.io', 'acme', false],
    ['quay.io/acme/web', 'quay.io', 'acme/web/x', true],
    ['quay.io', 'quay.io', 'anything/at/all', true],
    ['quay.io', 'quay.io.evil.com', 'x', false],
    ['quay.io', 'uay.io', 'x', false],
    ['test.com', 'TEST.COM', 'x', true],
    ['test.com', 'test.com:8080', 'x', false],
    ['docker.io/library', 'docker.io', 'library/nginx', true],
    ['docker.io/library', 'docker.io', 'nginx', false],
  ])('%s covers %s/%s: %s', (entry, host, path, covered) => {
    expect(prefixCovers(prefix(entry), host, path)).toBe(covered);
  });
});

describe('validateAppSlug', () => {
  it.each(['my-app', 'app', 'app1', 'a.b', 'a__b', 'a--b', '1'])('accepts %s', (slug) => {
    expect(validateAppSlug(slug)).toEqual([]);
  });

  it.each([
    ['', /empty/],
    ['My-App', /must be lower case/],
    ['my/app', /single path component/],
    ['-app', /not a valid image path component/],
    ['app-', /not a valid image path component/],
    ['a..b', /not a valid image path component/],
    ['a___b', /not a valid image path component/],
    ['my app', /not a valid image path component/],
  ])('refuses %j', (slug, pattern) => {
    const found = validateAppSlug(slug);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(pattern);
  });
});

describe('validateProxyDomain', () => {
  it.each(['proxy.replicated.com', 'proxy.example.com:8443', 'Proxy.Example.COM', 'localhost', 'localhost:5000', '[::1]:5000', '10.0.0.1', 'registry:5000'])(
    'accepts %s',
    (domain) => {
      expect(validateProxyDomain(domain)).toEqual([]);
    },
  );

  it.each([
    ['', /empty/],
    ['https://proxy.example.com', /not a registry host/],
    ['proxy.example.com/path', /not a registry host/],
    ['proxy.example.com:http', /not a registry host/],
    ['proxy', /does not read as a registry host/],
    ['docker.io', /cannot be Docker Hub/],
    ['Index.Docker.IO', /cannot be Docker Hub/],
    ['registry-1.docker.io', /cannot be Docker Hub/],
  ])('refuses %j', (domain, pattern) => {
    const found = validateProxyDomain(domain);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(pattern);
  });
});
