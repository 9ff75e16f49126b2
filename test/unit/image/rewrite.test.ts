// The contract's image rewrite rule, bullet by bullet.
import { describe, expect, it } from 'vitest';
import { formatReference, parseNormalizedReference, referenceName } from '../../../src/image/reference.ts';
import { parseRegistryPrefix, type RegistryPrefix } from '../../../src/image/registry-prefix.ts';
import { hostOf, rewriteImage, type RewriteOutcome, type RewritePolicy } from '../../../src/image/rewrite.ts';

const SHA = `sha256:${'0123456789abcdef'.repeat(4)}`;
const P = 'proxy.example.com/proxy/my-app';

function prefixes(...entries: string[]): RegistryPrefix[] {
  return entries.map((entry) => {
    const parsed = parseRegistryPrefix(entry);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    return parsed.prefix;
  });
}

function policy(...entries: string[]): RewritePolicy {
  return { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: prefixes(...entries) };
}

const POLICY = policy('quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'test.com');

// Every rewritten image must be a canonical, valid reference that rewrites to 'proxied'.
function expectSound(outcome: RewriteOutcome, p: RewritePolicy): void {
  if (outcome.kind !== 'rewritten') return;
  const reparsed = parseNormalizedReference(outcome.image);
  expect(formatReference(reparsed)).toBe(outcome.image);
  expect(rewriteImage(outcome.image, p)).toEqual({ kind: 'proxied', image: outcome.image });
}

describe('private images are rewritten to the proxy', () => {
  it.each([
    ['acme/app:1.0', `${P}/docker.io/acme/app:1.0`],
    ['docker.io/acme/app', `${P}/docker.io/acme/app`],
    ['index.docker.io/acme/app:2', `${P}/docker.io/acme/app:2`],
    ['registry-1.docker.io/acme/app', `${P}/docker.io/acme/app`],
    ['DOCKER.IO/acme/app', `${P}/docker.io/acme/app`],
    ['quay.io/acme/web', `${P}/quay.io/acme/web`],
    ['quay.io/acme', `${P}/quay.io/acme`],
    ['quay.io/acme/team/web:v1', `${P}/quay.io/acme/team/web:v1`],
    [`quay.io/acme/web@${SHA}`, `${P}/quay.io/acme/web@${SHA}`],
    [`quay.io/acme/web:1.2@${SHA}`, `${P}/quay.io/acme/web:1.2@${SHA}`],
    ['QUAY.IO/acme/web:Tag', `${P}/quay.io/acme/web:Tag`],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1', `${P}/123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1`],
    ['TEST.COM/foo', `${P}/test.com/foo`],
    ['Test.Com/foo/bar:x', `${P}/test.com/foo/bar:x`],
  ])('%s → %s', (image, expected) => {
    const outcome = rewriteImage(image, POLICY);
    expect(outcome).toEqual({ kind: 'rewritten', image: expected, original: image });
    expectSound(outcome, POLICY);
  });

  it('keeps the normalized Docker Hub path, library/ included', () => {
    const p = policy('docker.io/library');
    for (const image of ['nginx', 'library/nginx', 'docker.io/nginx', 'docker.io/library/nginx', 'index.docker.io/nginx']) {
      expect(rewriteImage(image, p)).toEqual({ kind: 'rewritten', image: `${P}/docker.io/library/nginx`, original: image });
    }
    expect(rewriteImage('nginx:1.27', p)).toEqual({ kind: 'rewritten', image: `${P}/docker.io/library/nginx:1.27`, original: 'nginx:1.27' });
    expect(rewriteImage('acme/app', p).kind).toBe('unchanged');
  });

  it('covers a whole host', () => {
    const p = policy('docker.io');
    expect(rewriteImage('nginx', p)).toMatchObject({ kind: 'rewritten', image: `${P}/docker.io/library/nginx` });
    expect(rewriteImage('someone/else', p)).toMatchObject({ kind: 'rewritten', image: `${P}/docker.io/someone/else` });
    expect(rewriteImage('ghcr.io/someone/else', p).kind).toBe('unchanged');
  });

  it('never invents a tag', () => {
    const outcome = rewriteImage('quay.io/acme/b', POLICY);
    expect(outcome).toMatchObject({ kind: 'rewritten', image: `${P}/quay.io/acme/b` });
    if (outcome.kind !== 'rewritten') throw new Error(outcome.kind);
    expect(parseNormalizedReference(outcome.image).tag).toBeUndefined();
  });

  it('writes the proxy domain as configured, port included', () => {
    const p: RewritePolicy = { proxyDomain: 'localhost:5000', appSlug: 'a', privateRegistries: prefixes('quay.io') };
    const outcome = rewriteImage('quay.io/x/y:1', p);
    expect(outcome).toEqual({ kind: 'rewritten', image: 'localhost:5000/proxy/a/quay.io/x/y:1', original: 'quay.io/x/y:1' });
    expectSound(outcome, p);
    const v6: RewritePolicy = { ...p, proxyDomain: '[::1]:5000' };
    const outcome6 = rewriteImage('quay.io/x/y:1', v6);
    expect(outcome6).toMatchObject({ kind: 'rewritten', image: '[::1]:5000/proxy/a/quay.io/x/y:1' });
    expectSound(outcome6, v6);
  });
});

describe('other images are left alone', () => {
  it.each([
    'nginx',
    'nginx:1.27',
    'library/nginx',
    'bitnami/redis',
    'quay.io/acmecorp/web',
    'quay.io/other/web',
    'quay.io/library/acme',
    'ghcr.io/acme/web',
    'test.com:8080/foo',
    'test.com.evil.io/foo',
    'sub.test.com/foo',
    '123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app',
    'localhost/acme/app',
    '[::1]:5000/acme/app',
    // No registry host at all (distribution leaves the domain empty).
    'foo_bar.com/acme/app',
  ])('%s', (image) => {
    expect(rewriteImage(image, POLICY)).toEqual({ kind: 'unchanged', image });
  });

  it('rewrites nothing when no registry is private', () => {
    expect(rewriteImage('quay.io/acme/web', policy())).toEqual({ kind: 'unchanged', image: 'quay.io/acme/web' });
  });
});

describe('images already on the proxy', () => {
  it.each([
    `${P}/quay.io/acme/web:1`,
    'proxy.example.com/anything/else',
    'PROXY.example.COM/proxy/my-app/docker.io/acme/app',
    `proxy.example.com/proxy/other-app/quay.io/acme/web@${SHA}`,
  ])('%s is proxied and unchanged', (image) => {
    expect(rewriteImage(image, POLICY)).toEqual({ kind: 'proxied', image });
  });

  it.each(['proxy.example.com:443/x', 'proxy.example.co/x', 'proxy.example.com.evil.io/x', 'xproxy.example.com/x', 'example.com/x'])(
    '%s is another registry (exact host, port included)',
    (image) => {
      expect(rewriteImage(image, POLICY)).toEqual({ kind: 'unchanged', image });
    },
  );

  it('takes precedence over a private entry that covers the proxy host', () => {
    const p = policy('proxy.example.com', 'quay.io');
    expect(rewriteImage('proxy.example.com/x/y', p)).toEqual({ kind: 'proxied', image: 'proxy.example.com/x/y' });
  });

  it('compares the proxy domain case-insensitively and with its port', () => {
    const p: RewritePolicy = { proxyDomain: 'Proxy.Example.com:8443', appSlug: 'my-app', privateRegistries: prefixes('quay.io') };
    expect(rewriteImage('proxy.example.com:8443/x', p).kind).toBe('proxied');
    expect(rewriteImage('proxy.example.com/x', p).kind).toBe('unchanged');
  });
});

describe('invalid references', () => {
  it.each([
    ['', 'invalid reference format'],
    ['quay.io/acme/Web', 'invalid reference format: repository name (acme/Web) must be lowercase'],
    ['quay.io/acme/web:bad~tag', 'invalid reference format'],
    ['0123456789abcdef'.repeat(4), `invalid repository name (${'0123456789abcdef'.repeat(4)}), cannot specify 64-byte hexadecimal strings`],
    [`quay.io/acme/web@sha256:${'F'.repeat(64)}`, 'invalid checksum digest format'],
    // Private images whose digest the grammar accepts but go-digest refuses: never proxied.
    [`acme/web@sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
    [`acme/web:1@sha512:${'a'.repeat(64)}`, 'invalid checksum digest length'],
    [`quay.io/acme/web@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`quay.io/acme/web:1@sha256:${'a'.repeat(63)}B`, 'invalid checksum digest format'],
    ['https://quay.io/acme/web', 'invalid reference format'],
  ])('%j is left unchanged with the reason', (image, reason) => {
    expect(rewriteImage(image, POLICY)).toEqual({ kind: 'invalid', image, reason });
  });
});

describe('results longer than 255 characters', () => {
  // The proxied name adds "proxy.example.com/proxy/my-app/" (31 characters) to the original name.
  const original = (nameLength: number) => `quay.io/acme/${'x'.repeat(nameLength - 'quay.io/acme/'.length)}`;

  it('rewrites when the proxied name is exactly 255 characters', () => {
    const image = `${original(224)}:t@${SHA}`;
    const outcome = rewriteImage(image, POLICY);
    expect(outcome.kind).toBe('rewritten');
    if (outcome.kind !== 'rewritten') return;
    expect(referenceName(parseNormalizedReference(outcome.image))).toHaveLength(255);
    expectSound(outcome, POLICY);
  });

  it('leaves the image unchanged, with the candidate, at 256', () => {
    const image = `${original(225)}:t`;
    expect(rewriteImage(image, POLICY)).toEqual({ kind: 'too-long', image, candidate: `${P}/${image}` });
  });

  it('does so for an original at the 255 limit too', () => {
    const image = original(255);
    expect(() => parseNormalizedReference(image), 'the original itself is valid').not.toThrow();
    expect(rewriteImage(image, POLICY)).toEqual({ kind: 'too-long', image, candidate: `${P}/${image}` });
  });
});

describe('rewriting is a fixed point', () => {
  const tooLong = `quay.io/acme/${'y'.repeat(240)}`;
  const images = ['acme/app:1.0', 'nginx', 'quay.io/acme/web', `quay.io/acme/web:1@${SHA}`, 'TEST.COM/foo', 'bad image', tooLong];
  it.each(images)('%s', (image) => {
    const once = rewriteImage(image, POLICY);
    const twice = rewriteImage(once.image, POLICY);
    expect(twice.image).toBe(once.image);
    if (once.kind === 'rewritten') expect(twice.kind).toBe('proxied');
    else expect(twice).toEqual(once);
  });
});

describe('hostOf', () => {
  it.each([
    ['nginx', 'docker.io'],
    ['acme/app', 'docker.io'],
    ['index.docker.io/acme/app', 'docker.io'],
    ['registry-1.docker.io/acme/app', 'docker.io'],
    ['quay.io/acme/web:1', 'quay.io'],
    ['TEST.COM:5000/x', 'test.com:5000'],
    ['[::1]:5000/x', '[::1]:5000'],
    ['localhost/x', 'localhost'],
    ['Registry.Example.com/vendor/app', 'registry.example.com'],
  ])('%s → %s', (image, host) => {
    expect(hostOf(image)).toBe(host);
  });

  it.each(['', 'Bad/Image', 'quay.io/a/b:bad~tag', 'foo_bar.com/x'])('%j → undefined', (image) => {
    expect(hostOf(image)).toBeUndefined();
  });
});

describe('Docker Hub spellings in any case', () => {
  const policy = { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: [{ host: 'docker.io', pathSegments: ['acme'] }, { host: 'docker.io', pathSegments: ['library', 'nginx'] }] };
  it.each([
    ['INDEX.DOCKER.IO/acme/app:1', 'proxy.example.com/proxy/my-app/docker.io/acme/app:1'],
    ['Registry-1.Docker.io/acme/app:1', 'proxy.example.com/proxy/my-app/docker.io/acme/app:1'],
    ['DOCKER.IO/acme/app:1', 'proxy.example.com/proxy/my-app/docker.io/acme/app:1'],
    ['INDEX.DOCKER.IO/nginx:1', 'proxy.example.com/proxy/my-app/docker.io/library/nginx:1'],
  ])('%s is Docker Hub', (image, expected) => {
    expect(rewriteImage(image, policy)).toEqual({ kind: 'rewritten', image: expected, original: image });
    expect(hostOf(image)).toBe('docker.io');
  });
});
