// Parsing and normalization, checked with the cases of distribution/reference's reference_test.go
// and normalize_test.go, plus the contract's registry-1.docker.io alias.
import { describe, expect, it } from 'vitest';
import {
  familiarName,
  familiarString,
  formatReference,
  InvalidReferenceError,
  parseNormalizedReference,
  parseReference,
  referenceName,
  type ImageReference,
} from '../../../src/image/reference.ts';

const F64 = 'f'.repeat(64);
const HEX64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

function reasonOf(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidReferenceError);
    return (error as InvalidReferenceError).reason;
  }
  throw new Error('expected an InvalidReferenceError');
}

describe('parseReference: the grammar without normalization (TestReferenceParse)', () => {
  interface Case {
    input: string;
    name?: string;
    domain?: string;
    tag?: string;
    digest?: string;
    reason?: string;
  }
  const cases: Case[] = [
    { input: 'test_com', name: 'test_com' },
    { input: 'test.com:tag', name: 'test.com', tag: 'tag' },
    { input: 'test.com:5000', name: 'test.com', tag: '5000' },
    { input: 'test.com/repo:tag', domain: 'test.com', name: 'test.com/repo', tag: 'tag' },
    { input: 'test:5000/repo', domain: 'test:5000', name: 'test:5000/repo' },
    { input: 'test:5000/repo:tag', domain: 'test:5000', name: 'test:5000/repo', tag: 'tag' },
    { input: `test:5000/repo@sha256:${F64}`, domain: 'test:5000', name: 'test:5000/repo', digest: `sha256:${F64}` },
    { input: `test:5000/repo:tag@sha256:${F64}`, domain: 'test:5000', name: 'test:5000/repo', tag: 'tag', digest: `sha256:${F64}` },
    { input: '', reason: 'repository name must have at least one component' },
    { input: ':justtag', reason: 'invalid reference format' },
    { input: `@sha256:${F64}`, reason: 'invalid reference format' },
    { input: `repo@sha256:${'f'.repeat(34)}`, reason: 'invalid checksum digest length' },
    { input: 'Uppercase:tag', reason: 'repository name must be lowercase' },
    { input: 'test:5000/Uppercase/lowercase:tag', reason: 'repository name must be lowercase' },
    { input: 'lowercase:Uppercase', name: 'lowercase', tag: 'Uppercase' },
    { input: 'a/'.repeat(128) + 'a:tag', reason: 'repository name must not be more than 255 characters' },
    { input: 'a/'.repeat(127) + 'a:tag-puts-this-over-max', domain: 'a', name: 'a/'.repeat(127) + 'a', tag: 'tag-puts-this-over-max' },
    { input: 'aa/asdf$$^/aa', reason: 'invalid reference format' },
    { input: 'sub-dom1.foo.com/bar/baz/quux', domain: 'sub-dom1.foo.com', name: 'sub-dom1.foo.com/bar/baz/quux' },
    { input: 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', domain: 'sub-dom1.foo.com', name: 'sub-dom1.foo.com/bar/baz/quux', tag: 'some-long-tag' },
    { input: 'b.gcr.io/test.example.com/my-app:test.example.com', domain: 'b.gcr.io', name: 'b.gcr.io/test.example.com/my-app', tag: 'test.example.com' },
    { input: 'xn--n3h.com/myimage:xn--n3h.com', domain: 'xn--n3h.com', name: 'xn--n3h.com/myimage', tag: 'xn--n3h.com' },
    {
      input: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${'f'.repeat(128)}`,
      domain: 'xn--7o8h.com',
      name: 'xn--7o8h.com/myimage',
      tag: 'xn--7o8h.com',
      digest: `sha512:${'f'.repeat(128)}`,
    },
    { input: 'foo_bar.com:8080', name: 'foo_bar.com', tag: '8080' },
    { input: 'foo/foo_bar.com:8080', domain: 'foo', name: 'foo/foo_bar.com', tag: '8080' },
    { input: '192.168.1.1', name: '192.168.1.1' },
    { input: '192.168.1.1:tag', name: '192.168.1.1', tag: 'tag' },
    { input: '192.168.1.1:5000', name: '192.168.1.1', tag: '5000' },
    { input: '192.168.1.1/repo', domain: '192.168.1.1', name: '192.168.1.1/repo' },
    { input: '192.168.1.1:5000/repo', domain: '192.168.1.1:5000', name: '192.168.1.1:5000/repo' },
    { input: '192.168.1.1:5000/repo:5050', domain: '192.168.1.1:5000', name: '192.168.1.1:5000/repo', tag: '5050' },
    { input: '[2001:db8::1]', reason: 'invalid reference format' },
    { input: '[2001:db8::1]:5000', reason: 'invalid reference format' },
    { input: '[2001:db8::1]:tag', reason: 'invalid reference format' },
    { input: '[2001:db8::1]/repo', domain: '[2001:db8::1]', name: '[2001:db8::1]/repo' },
    { input: '[2001:db8:1:2:3:4:5:6]/repo:tag', domain: '[2001:db8:1:2:3:4:5:6]', name: '[2001:db8:1:2:3:4:5:6]/repo', tag: 'tag' },
    { input: '[2001:db8::1]:5000/repo', domain: '[2001:db8::1]:5000', name: '[2001:db8::1]:5000/repo' },
    { input: '[2001:db8::1]:5000/repo:tag', domain: '[2001:db8::1]:5000', name: '[2001:db8::1]:5000/repo', tag: 'tag' },
    { input: `[2001:db8::1]:5000/repo@sha256:${F64}`, domain: '[2001:db8::1]:5000', name: '[2001:db8::1]:5000/repo', digest: `sha256:${F64}` },
    {
      input: `[2001:db8::1]:5000/repo:tag@sha256:${F64}`,
      domain: '[2001:db8::1]:5000',
      name: '[2001:db8::1]:5000/repo',
      tag: 'tag',
      digest: `sha256:${F64}`,
    },
    { input: '[2001:db8::]:5000/repo', domain: '[2001:db8::]:5000', name: '[2001:db8::]:5000/repo' },
    { input: '[::1]:5000/repo', domain: '[::1]:5000', name: '[::1]:5000/repo' },
    { input: '[fe80::1%eth0]:5000/repo', reason: 'invalid reference format' },
    { input: '[fe80::1%@invalidzone]:5000/repo', reason: 'invalid reference format' },
  ];

  it.each(cases)('$input', ({ input, name, domain, tag, digest, reason }) => {
    if (reason !== undefined) {
      expect(reasonOf(() => parseReference(input))).toBe(reason);
      return;
    }
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(input);
    expect(referenceName(ref)).toBe(name);
    expect(ref.domain).toBe(domain ?? '');
    expect(ref.tag).toBe(tag);
    expect(ref.digest).toBe(digest);
  });

  it('splits domain and path (TestDomainAndPath)', () => {
    const split = (s: string) => {
      const { domain, path } = parseReference(s);
      return [domain, path];
    };
    expect(split('test.com/foo')).toEqual(['test.com', 'foo']);
    expect(split('test_com/foo')).toEqual(['', 'test_com/foo']);
    expect(split('test:8080/foo')).toEqual(['test:8080', 'foo']);
    expect(split('test.com:8080/foo')).toEqual(['test.com:8080', 'foo']);
    expect(split('test-com:8080/foo')).toEqual(['test-com:8080', 'foo']);
    expect(split('xn--n3h.com:18080/foo')).toEqual(['xn--n3h.com:18080', 'foo']);
  });
});

describe('parseNormalizedReference: which names are valid (TestValidateReferenceName, TestValidateRemoteName)', () => {
  it.each([
    'docker/docker',
    'library/debian',
    'debian',
    'docker.io/docker/docker',
    'docker.io/library/debian',
    'docker.io/debian',
    'index.docker.io/docker/docker',
    'index.docker.io/library/debian',
    'index.docker.io/debian',
    '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian',
    '127.0.0.1:5000/debian',
    '192.168.0.1',
    '192.168.0.1:80',
    '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    // With a host there is no doubt it is a name, so 64 hex digits are allowed.
    `docker.io/${HEX64}`,
    'Docker/docker',
    'DOCKER/docker',
    'docker-rules/docker',
    'docker---rules/docker',
    'doc/docker',
    'd/docker',
    'jess/t',
    'dock__er/docker',
  ])('accepts %s', (input) => {
    expect(() => parseNormalizedReference(input)).not.toThrow();
  });

  it.each([
    'https://github.com/docker/docker',
    'docker/Docker',
    '-docker',
    '-docker/docker',
    '-docker.io/docker/docker',
    'docker///docker',
    'docker.io/docker/Docker',
    'docker.io/docker///docker',
    '[fc00::1]',
    '[fc00::1]:5000',
    'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian',
    '[2001:db8:3:4::192.0.2.33]:5000/debian',
    HEX64,
    'docker-/docker',
    '-docker-/docker',
    '____/____',
    '_docker/_docker',
    'dock..er/docker',
    'dock_.er/docker',
    'dock-.er/docker',
    'docker/',
    'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
    '',
  ])('rejects %s', (input) => {
    expect(() => parseNormalizedReference(input)).toThrow(InvalidReferenceError);
  });
});

describe('parseNormalizedReference: error reasons', () => {
  it('refuses a bare 64-hex identifier as ambiguous', () => {
    expect(reasonOf(() => parseNormalizedReference(HEX64))).toBe(`invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`);
  });

  it('allows an identifier-looking name with a tag, a host, or another length', () => {
    expect(formatReference(parseNormalizedReference(`${HEX64}:1`))).toBe(`docker.io/library/${HEX64}:1`);
    expect(formatReference(parseNormalizedReference(HEX64.slice(1)))).toBe(`docker.io/library/${HEX64.slice(1)}`);
  });

  it('names the repository when it has upper case', () => {
    expect(reasonOf(() => parseNormalizedReference('docker/Docker'))).toBe('invalid reference format: repository name (docker/Docker) must be lowercase');
    expect(reasonOf(() => parseNormalizedReference('Uppercase:tag'))).toBe('invalid reference format: repository name (library/Uppercase) must be lowercase');
    expect(reasonOf(() => parseNormalizedReference('test.com/Foo:TAG'))).toBe('invalid reference format: repository name (Foo) must be lowercase');
  });

  it('reports the text as given, not as normalized', () => {
    try {
      parseNormalizedReference('quay.io/a/b:bad~tag');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidReferenceError);
      expect((error as InvalidReferenceError).reference).toBe('quay.io/a/b:bad~tag');
      expect((error as InvalidReferenceError).reason).toBe('invalid reference format');
      expect((error as InvalidReferenceError).message).toBe('invalid image reference "quay.io/a/b:bad~tag": invalid reference format');
    }
  });

  it('counts the normalized name, domain included, against 255 characters', () => {
    // docker.io/library/ is 18 characters.
    expect(referenceName(parseNormalizedReference('a'.repeat(237))).length).toBe(255);
    expect(reasonOf(() => parseNormalizedReference('a'.repeat(238)))).toBe('repository name must not be more than 255 characters');
    expect(() => parseNormalizedReference(`quay.io/${'b'.repeat(247)}:${'t'.repeat(128)}`)).not.toThrow();
    expect(() => parseNormalizedReference(`quay.io/${'b'.repeat(248)}`)).toThrow('must not be more than 255');
  });
});

describe('parseNormalizedReference: digests (go-digest Validate, as distribution applies it)', () => {
  const valid = (digest: string) => parseNormalizedReference(`quay.io/a/b@${digest}`).digest;
  it.each([
    [`sha256:${'0123456789abcdef'.repeat(4)}`],
    [`sha384:${'ab'.repeat(48)}`],
    [`sha512:${'cd'.repeat(64)}`],
  ])('accepts %s', (digest) => {
    expect(valid(digest)).toBe(digest);
  });

  it('checks for upper case up to the first ":", digest algorithm included, as distribution does', () => {
    const digest = `Tiger:${'e'.repeat(48)}`;
    expect(reasonOf(() => parseNormalizedReference(`quay.io/a/b@${digest}`))).toBe(
      'invalid reference format: repository name (a/b@Tiger) must be lowercase',
    );
    // With a tag the name check passes; go-digest then refuses the upper-case algorithm.
    expect(reasonOf(() => parseNormalizedReference(`quay.io/a/b:1@${digest}`))).toBe('invalid checksum digest format');
    // Registered names are case-sensitive: SHA256 is not sha256.
    expect(reasonOf(() => parseNormalizedReference(`quay.io/a/b:1@SHA256:${'f'.repeat(64)}`))).toBe('invalid checksum digest format');
  });

  it.each([
    // Grammar-valid, refused by go-digest.
    [`sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
    [`sha256:${'f'.repeat(63)}A`, 'invalid checksum digest format'],
    [`sha256:${'f'.repeat(63)}`, 'invalid checksum digest length'],
    [`sha256:${'f'.repeat(65)}`, 'invalid checksum digest length'],
    [`sha256:${'f'.repeat(32)}`, 'invalid checksum digest length'],
    [`sha512:${'f'.repeat(64)}`, 'invalid checksum digest length'],
    [`sha512:${'f'.repeat(127)}`, 'invalid checksum digest length'],
    [`sha512:${'F'.repeat(128)}`, 'invalid checksum digest format'],
    [`sha384:${'f'.repeat(64)}`, 'invalid checksum digest length'],
    [`md5:${'e'.repeat(32)}`, 'unsupported digest algorithm'],
    [`sha1:${'e'.repeat(40)}`, 'unsupported digest algorithm'],
    [`sha256+b64u:${'e'.repeat(40)}`, 'unsupported digest algorithm'],
    [`tiger.v2:${'E'.repeat(48)}`, 'unsupported digest algorithm'],
    // Refused by the grammar already.
    [`sha256:${'f'.repeat(31)}`, 'invalid reference format'],
    [`sha256:${'g'.repeat(64)}`, 'invalid reference format'],
    [`1sha:${'f'.repeat(64)}`, 'invalid reference format'],
    [`sha256-:${'f'.repeat(64)}`, 'invalid reference format'],
    // Each algorithm component starts with a letter.
    [`sha3-256:${'f'.repeat(64)}`, 'invalid reference format'],
  ])('rejects %s', (digest, reason) => {
    expect(reasonOf(() => parseNormalizedReference(`quay.io/a/b@${digest}`))).toBe(reason);
    expect(reasonOf(() => parseNormalizedReference(`quay.io/a/b:1@${digest}`))).toBe(reason);
  });

  it('refuses bad digests on every normalization path, Docker Hub short names included', () => {
    expect(reasonOf(() => parseNormalizedReference(`nginx@sha256:${'a'.repeat(63)}`))).toBe('invalid checksum digest length');
    expect(reasonOf(() => parseNormalizedReference(`nginx@md5:${'a'.repeat(32)}`))).toBe('unsupported digest algorithm');
    expect(reasonOf(() => parseNormalizedReference(`acme/app:1@sha256:${'A'.repeat(64)}`))).toBe('invalid checksum digest format');
    expect(reasonOf(() => parseReference(`docker.io/library/nginx@md5:${'a'.repeat(32)}`))).toBe('unsupported digest algorithm');
  });
});

describe('parseNormalizedReference: normalization (TestParseRepositoryInfo)', () => {
  // [path, familiar name, full name, other spelling or undefined, domain]
  const cases: [string, string, string, string | undefined, string][] = [
    ['fooo/bar', 'fooo/bar', 'docker.io/fooo/bar', 'index.docker.io/fooo/bar', 'docker.io'],
    ['library/ubuntu', 'ubuntu', 'docker.io/library/ubuntu', 'library/ubuntu', 'docker.io'],
    ['nonlibrary/ubuntu', 'nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu', undefined, 'docker.io'],
    ['other/library', 'other/library', 'docker.io/other/library', undefined, 'docker.io'],
    ['private/moonbase', '127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase', undefined, '127.0.0.1:8000'],
    ['privatebase', '127.0.0.1:8000/privatebase', '127.0.0.1:8000/privatebase', undefined, '127.0.0.1:8000'],
    ['private/moonbase', 'example.com/private/moonbase', 'example.com/private/moonbase', undefined, 'example.com'],
    ['privatebase', 'example.com/privatebase', 'example.com/privatebase', undefined, 'example.com'],
    ['private/moonbase', 'example.com:8000/private/moonbase', 'example.com:8000/private/moonbase', undefined, 'example.com:8000'],
    ['privatebasee', 'example.com:8000/privatebasee', 'example.com:8000/privatebasee', undefined, 'example.com:8000'],
    ['library/ubuntu-12.04-base', 'ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base', 'index.docker.io/library/ubuntu-12.04-base', 'docker.io'],
    ['library/foo', 'foo', 'docker.io/library/foo', 'docker.io/foo', 'docker.io'],
    ['library/foo/bar', 'library/foo/bar', 'docker.io/library/foo/bar', undefined, 'docker.io'],
    ['store/foo/bar', 'store/foo/bar', 'docker.io/store/foo/bar', undefined, 'docker.io'],
    ['bar', 'Foo/bar', 'Foo/bar', undefined, 'Foo'],
    ['bar', 'FOO/bar', 'FOO/bar', undefined, 'FOO'],
    // The contract's addition: Docker Hub's registry API host.
    ['library/foo', 'foo', 'docker.io/library/foo', 'registry-1.docker.io/foo', 'docker.io'],
    ['acme/app', 'acme/app', 'docker.io/acme/app', 'registry-1.docker.io/acme/app', 'docker.io'],
  ];
  const spellings = cases.flatMap(([path, familiar, full, other, domain]) =>
    [familiar, full, ...(other === undefined ? [] : [other])].map((input) => ({ input, path, familiar, full, domain })),
  );
  it.each(spellings)('$input → $full', ({ input, path, familiar, full, domain }) => {
    const ref = parseNormalizedReference(input);
    expect(ref.domain).toBe(domain);
    expect(ref.path).toBe(path);
    expect(formatReference(ref)).toBe(full);
    expect(familiarName(ref)).toBe(familiar);
  });

  it.each([
    ['test.com/foo', 'test.com', 'foo'],
    ['test_com/foo', 'docker.io', 'test_com/foo'],
    ['docker/migrator', 'docker.io', 'docker/migrator'],
    ['test.com:8080/foo', 'test.com:8080', 'foo'],
    ['test-com:8080/foo', 'test-com:8080', 'foo'],
    ['foo', 'docker.io', 'library/foo'],
    ['xn--n3h.com/foo', 'xn--n3h.com', 'foo'],
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'],
    ['docker.io/foo', 'docker.io', 'library/foo'],
    ['docker.io/library/foo', 'docker.io', 'library/foo'],
    ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
    ['localhost/foo', 'localhost', 'foo'],
    ['localhost:5000/foo', 'localhost:5000', 'foo'],
    ['registry-1.docker.io/library/foo', 'docker.io', 'library/foo'],
    ['TEST.COM/foo', 'TEST.COM', 'foo'],
    ['[::1]:5000/foo', '[::1]:5000', 'foo'],
    // Like distribution: a first component with "." that is not a valid host leaves no domain.
    ['foo_bar.com/x', '', 'foo_bar.com/x'],
    // Like distribution, Docker Hub's names are recognized only as written, in lower case.
    ['INDEX.DOCKER.IO/foo', 'INDEX.DOCKER.IO', 'foo'],
  ])('splits %s into %s and %s (TestNormalizedSplitHostname)', (input, domain, path) => {
    const ref = parseNormalizedReference(input);
    expect([ref.domain, ref.path]).toEqual([domain, path]);
  });

  it.each([
    ['redis', 'docker.io/library/redis'],
    ['redis:latest', 'docker.io/library/redis:latest'],
    ['docker.io/library/redis:latest', 'docker.io/library/redis:latest'],
    [`redis@sha256:${F64}`, `docker.io/library/redis@sha256:${F64}`],
    ['dmcgowan/myapp', 'docker.io/dmcgowan/myapp'],
    ['dmcgowan/myapp:latest', 'docker.io/dmcgowan/myapp:latest'],
    [`dmcgowan/myapp@sha256:${F64}`, `docker.io/dmcgowan/myapp@sha256:${F64}`],
    ['dbcc1', 'docker.io/library/dbcc1'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    // No tag is invented, unlike ParseDockerRef; tag and digest are both kept.
    ['gcr.io/library/busybox', 'gcr.io/library/busybox'],
    [`gcr.io/library/busybox:latest@sha256:${F64}`, `gcr.io/library/busybox:latest@sha256:${F64}`],
  ])('normalizes %s to %s (TestParseAnyReference)', (input, canonical) => {
    expect(formatReference(parseNormalizedReference(input))).toBe(canonical);
    // A canonical string is a fixed point.
    expect(formatReference(parseNormalizedReference(canonical))).toBe(canonical);
  });
});

describe('familiarString (TestParseReferenceWithTagAndDigest)', () => {
  it('keeps tag and digest together', () => {
    const short = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
    const ref = parseNormalizedReference(short);
    expect(formatReference(ref)).toBe(`docker.io/library/${short}`);
    expect(ref.tag).toBe('latest');
    expect(ref.digest).toBe('sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa');
    expect(familiarString(ref)).toBe(short);
  });

  it.each<[ImageReference, string]>([
    [{ domain: 'docker.io', path: 'library/redis', tag: '7' }, 'redis:7'],
    [{ domain: 'docker.io', path: 'library/foo/bar' }, 'library/foo/bar'],
    [{ domain: 'docker.io', path: 'acme/app', digest: `sha256:${F64}` }, `acme/app@sha256:${F64}`],
    [{ domain: 'quay.io', path: 'library/redis', tag: '7' }, 'quay.io/library/redis:7'],
    [{ domain: '', path: 'foo_bar.com/x' }, 'foo_bar.com/x'],
    // As in distribution, even where the short form would read as a registry host.
    [{ domain: 'docker.io', path: 'a.b/c' }, 'a.b/c'],
  ])('%j → %s', (ref, expected) => {
    expect(familiarString(ref)).toBe(expected);
  });
});
