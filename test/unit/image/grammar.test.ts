// The regular expressions, checked with the cases of distribution/reference's regexp_test.go.
import { describe, expect, it } from 'vitest';
import { DOMAIN_AND_PORT, IDENTIFIER, NAME, PATH_COMPONENT, REFERENCE } from '../../../src/image/grammar.ts';

const SHA = 'sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912';

describe('domain and port (TestDomainRegexp)', () => {
  it.each([
    ['test.com', true],
    ['test.com:10304', true],
    ['test.com:http', false],
    ['localhost', true],
    ['localhost:8080', true],
    ['a', true],
    ['a.b', true],
    ['ab.cd.com', true],
    ['a-b.com', true],
    ['-ab.com', false],
    ['ab-.com', false],
    ['ab.c-om', true],
    ['ab.-com', false],
    ['ab.com-', false],
    ['0101.com', true],
    ['001a.com', true],
    ['b.gbc.io:443', true],
    ['b.gbc.io', true],
    ['xn--n3h.com', true],
    ['Asdf.com', true],
    ['192.168.1.1:75050', true],
    ['192.168.1.1:750050', true],
    ['[fd00:1:2::3]:75050', true],
    ['[fd00:1:2::3]75050', false],
    ['[fd00:1:2::3]::75050', false],
    ['[fd00:1:2::3%eth0]:75050', false],
    ['[fd00123123123]:75050', true],
    ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050', true],
    ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505', true],
    ['fd00:1:2::3:75050', false],
  ])('%s → %s', (input, match) => {
    expect(DOMAIN_AND_PORT.test(input)).toBe(match);
  });
});

describe('anchored name with domain and path captures (TestFullNameRegexp)', () => {
  // [input, undefined when no match, else [domain, path]]
  const cases: [string, [string, string] | undefined][] = [
    ['', undefined],
    ['short', ['', 'short']],
    ['simple/name', ['simple', 'name']],
    ['library/ubuntu', ['library', 'ubuntu']],
    ['docker/stevvooe/app', ['docker', 'stevvooe/app']],
    ['aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb', ['aa', 'aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb']],
    ['aa/aa/bb/bb/bb', ['aa', 'aa/bb/bb/bb']],
    ['a/a/a/a', ['a', 'a/a/a']],
    ['a/a/a/a/', undefined],
    ['a//a/a', undefined],
    ['a', ['', 'a']],
    ['a/aa', ['a', 'aa']],
    ['a/aa/a', ['a', 'aa/a']],
    ['foo.com', ['', 'foo.com']],
    ['foo.com/', undefined],
    ['foo.com:8080/bar', ['foo.com:8080', 'bar']],
    ['foo.com:http/bar', undefined],
    ['foo.com/bar', ['foo.com', 'bar']],
    ['foo.com/bar/baz', ['foo.com', 'bar/baz']],
    ['localhost:8080/bar', ['localhost:8080', 'bar']],
    ['sub-dom1.foo.com/bar/baz/quux', ['sub-dom1.foo.com', 'bar/baz/quux']],
    ['blog.foo.com/bar/baz', ['blog.foo.com', 'bar/baz']],
    ['a^a', undefined],
    ['aa/asdf$$^/aa', undefined],
    ['asdf$$^/aa', undefined],
    ['aa-a/a', ['aa-a', 'a']],
    ['a/'.repeat(128) + 'a', ['a', 'a/'.repeat(127) + 'a']],
    ['a-/a/a/a', undefined],
    ['foo.com/a-/a/a', undefined],
    ['-foo/bar', undefined],
    ['foo/bar-', undefined],
    ['foo-/bar', undefined],
    ['foo/-bar', undefined],
    ['_foo/bar', undefined],
    ['foo_bar', ['', 'foo_bar']],
    ['foo_bar.com', ['', 'foo_bar.com']],
    ['foo_bar.com:8080', undefined],
    ['foo_bar.com:8080/app', undefined],
    ['foo.com/foo_bar', ['foo.com', 'foo_bar']],
    ['____/____', undefined],
    ['_docker/_docker', undefined],
    ['docker_/docker_', undefined],
    ['b.gcr.io/test.example.com/my-app', ['b.gcr.io', 'test.example.com/my-app']],
    ['xn--n3h.com/myimage', ['xn--n3h.com', 'myimage']],
    ['xn--7o8h.com/myimage', ['xn--7o8h.com', 'myimage']],
    ['example.com/xn--7o8h.com/myimage', ['example.com', 'xn--7o8h.com/myimage']],
    ['example.com/some_separator__underscore/myimage', ['example.com', 'some_separator__underscore/myimage']],
    ['example.com/__underscore/myimage', undefined],
    ['example.com/..dots/myimage', undefined],
    ['example.com/.dots/myimage', undefined],
    ['example.com/nodouble..dots/myimage', undefined],
    ['docker./docker', undefined],
    ['.docker/docker', undefined],
    ['docker-/docker', undefined],
    ['-docker/docker', undefined],
    ['do..cker/docker', undefined],
    ['do__cker:8080/docker', undefined],
    ['do__cker/docker', ['', 'do__cker/docker']],
    ['registry.io/foo/project--id.module--name.ver---sion--name', ['registry.io', 'foo/project--id.module--name.ver---sion--name']],
    ['Asdf.com/foo/bar', ['Asdf.com', 'foo/bar']],
    ['Foo/FarB', undefined],
  ];
  it.each(cases)('%s', (input, expected) => {
    const match = NAME.exec(input);
    expect(match === null ? undefined : [match[1] ?? '', match[2]]).toEqual(expected);
  });
});

describe('whole reference with name, tag and digest captures (TestReferenceRegexp)', () => {
  const cases: [string, [string, string, string] | undefined][] = [
    ['registry.com:8080/myapp:tag', ['registry.com:8080/myapp', 'tag', '']],
    [`registry.com:8080/myapp@${SHA}`, ['registry.com:8080/myapp', '', SHA]],
    [`registry.com:8080/myapp:tag2@${SHA}`, ['registry.com:8080/myapp', 'tag2', SHA]],
    ['registry.com:8080/myapp@sha256:badbadbadbad', undefined],
    ['registry.com:8080/myapp:invalid~tag', undefined],
    ['bad_hostname.com:8080/myapp:tag', undefined],
    // localhost alone is a name, so 8080 is its tag.
    [`localhost:8080@${SHA}`, ['localhost', '8080', SHA]],
    [`localhost:8080/name@${SHA}`, ['localhost:8080/name', '', SHA]],
    [`localhost:http/name@${SHA}`, undefined],
    [`localhost@${SHA}`, ['localhost', '', SHA]],
    ['registry.com:8080/myapp@bad', undefined],
    ['registry.com:8080/myapp@2bad', undefined],
  ];
  it.each(cases)('%s', (input, expected) => {
    const match = REFERENCE.exec(input);
    expect(match === null ? undefined : [match[1], match[2] ?? '', match[3] ?? '']).toEqual(expected);
  });

  it('caps a tag at 128 characters', () => {
    expect(REFERENCE.test(`a:${'t'.repeat(128)}`)).toBe(true);
    expect(REFERENCE.test(`a:${'t'.repeat(129)}`)).toBe(false);
  });
});

describe('identifier (TestIdentifierRegexp)', () => {
  it.each([
    ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821', true],
    ['7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C', false],
    ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf', false],
    ['sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821', false],
    ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482', false],
  ])('%s → %s', (input, match) => {
    expect(IDENTIFIER.test(input)).toBe(match);
  });
});

describe('path component', () => {
  it.each([
    ['a', true],
    ['my-app', true],
    ['my--app', true],
    ['a.b', true],
    ['a_b', true],
    ['a__b', true],
    ['a___b', false],
    ['a..b', false],
    ['-a', false],
    ['a-', false],
    ['A', false],
    ['a/b', false],
    ['test.com', true],
    ['test.com:80', false],
  ])('%s → %s', (input, match) => {
    expect(PATH_COMPONENT.test(input)).toBe(match);
  });
});

describe('pathological input', () => {
  // The grammar runs on a backtracking engine here; Pod images are arbitrary strings.
  it.each([
    'a'.repeat(100_000) + '!',
    'a-'.repeat(50_000) + '!',
    'a.'.repeat(50_000) + '/',
    'A.1aa'.repeat(20_000),
    `x/y@sha256:${'f'.repeat(100_000)}g`,
  ])('rejects the %#th long non-match (its speed is measured by npm run bench:grammar)', (input) => {
    expect(REFERENCE.test(input)).toBe(false);
  });
});
