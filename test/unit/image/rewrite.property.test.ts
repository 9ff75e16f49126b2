// Properties of parsing and rewriting over generated references and policies: a rewritten image
// always parses, names the proxy, keeps tag and digest, and rewriting twice equals rewriting once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { familiarString, formatReference, NAME_TOTAL_LENGTH_MAX, parseNormalizedReference, referenceName } from '../../../src/image/reference.ts';
import { parseRegistryPrefix, type RegistryPrefix } from '../../../src/image/registry-prefix.ts';
import { rewriteImage, type RewritePolicy } from '../../../src/image/rewrite.ts';

const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const separator = fc.constantFrom('.', '_', '__', '-', '---');
const pathComponent = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 })).map(([head, rest]) => head + rest.flat().join('')) },
  // Long components push some rewritten names past 255 characters.
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z]{80,200}$/) },
);
const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?$/);
const dnsHost = fc.array(label, { minLength: 2, maxLength: 3 }).map((labels) => labels.join('.'));
const host = fc.oneof(
  dnsHost,
  fc.constantFrom('docker.io', 'index.docker.io', 'registry-1.docker.io', 'localhost', 'Quay.IO', 'proxy.example.com', '[fd00::1]'),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { freq: 4 });
const tag = fc.option(fc.stringMatching(/^\w[\w.-]{0,12}$/));
const digest = fc.option(fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`));

/** Image strings as people write them: with or without a host, tag and digest. */
const image = fc
  .record({ host: fc.option(fc.tuple(host, port)), path: fc.array(pathComponent, { minLength: 1, maxLength: 4 }), tag, digest })
  .map(({ host, path, tag, digest }) => {
    const domain = host === null ? '' : `${host[0]}${host[1] === null ? '' : `:${host[1]}`}/`;
    return `${domain}${path.join('/')}${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`;
  })
  .filter((text) => {
    try {
      parseNormalizedReference(text);
      return true;
    } catch {
      return false; // e.g. a generated name over 255 characters
    }
  });

const proxyDomain = fc.constantFrom('proxy.example.com', 'proxy.example.com', 'Proxy.Example.com:8443', 'localhost:5000', '[::1]:5000', 'p.io', 'proxy.replicated.com');
const otherEntry = fc.tuple(dnsHost, fc.array(pathComponent, { maxLength: 2 })).map(([h, p]) => [h, ...p].join('/'));

interface Scenario {
  image: string;
  policy: RewritePolicy;
  /** Whether an entry was made to cover the image (when its host can be an entry at all). */
  covered: boolean;
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({ image, proxyDomain, appSlug: pathComponent, others: fc.array(otherEntry, { maxLength: 3 }), depth: fc.option(fc.nat(4), { freq: 3 }) })
  .map(({ image, proxyDomain, appSlug, others, depth }) => {
    const ref = parseNormalizedReference(image);
    const entries = [...others];
    if (depth !== null) entries.push([ref.domain, ...ref.path.split('/').slice(0, depth)].join('/'));
    const privateRegistries: RegistryPrefix[] = [];
    let covered = false;
    for (const entry of entries) {
      const parsed = parseRegistryPrefix(entry);
      if (!parsed.ok) continue;
      privateRegistries.push(parsed.prefix);
      if (entry === entries.at(-1) && depth !== null) covered = true;
    }
    return { image, policy: { proxyDomain, appSlug, privateRegistries }, covered };
  });

describe('parsing properties', () => {
  it('normalization is idempotent and familiar strings mean the same image', () => {
    fc.assert(
      fc.property(image, (text) => {
        const ref = parseNormalizedReference(text);
        const canonical = formatReference(ref);
        expect(parseNormalizedReference(canonical)).toEqual(ref);
        // As in distribution, a Docker Hub namespace that looks like a host ("docker.io/a.b/c")
        // has a familiar form ("a.b/c") that reads as another registry; the rest round-trip.
        const namespace = ref.path.split('/')[0] ?? '';
        if (ref.domain === 'docker.io' && (namespace.includes('.') || namespace === 'localhost')) return;
        expect(parseNormalizedReference(familiarString(ref))).toEqual(ref);
      }),
      { numRuns: 300 },
    );
  });
});

describe('rewrite properties', () => {
  it('a rewritten image parses, is canonical, names the proxy and keeps the repository, tag and digest', () => {
    fc.assert(
      fc.property(scenario, ({ image, policy }) => {
        const outcome = rewriteImage(image, policy);
        expect(outcome.kind).not.toBe('invalid');
        if (outcome.kind !== 'rewritten') {
          expect(outcome.image).toBe(image);
          return;
        }
        const before = parseNormalizedReference(image);
        const after = parseNormalizedReference(outcome.image);
        expect(formatReference(after)).toBe(outcome.image);
        expect(after.domain.toLowerCase()).toBe(policy.proxyDomain.toLowerCase());
        expect(after.path).toBe(`proxy/${policy.appSlug}/${before.domain.toLowerCase()}/${before.path}`);
        expect(after.tag).toBe(before.tag);
        expect(after.digest).toBe(before.digest);
        expect(referenceName(after).length).toBeLessThanOrEqual(NAME_TOTAL_LENGTH_MAX);
        expect(outcome.original).toBe(image);
      }),
      { numRuns: 500 },
    );
  });

  it('rewriting twice equals rewriting once', () => {
    fc.assert(
      fc.property(scenario, ({ image, policy }) => {
        const once = rewriteImage(image, policy);
        const twice = rewriteImage(once.image, policy);
        expect(twice.image).toBe(once.image);
        if (once.kind === 'rewritten') expect(twice.kind).toBe('proxied');
        else expect(twice).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });

  it('an image under a private entry is rewritten unless it is on the proxy or the result is too long', () => {
    fc.assert(
      fc.property(scenario, ({ image, policy, covered }) => {
        fc.pre(covered);
        const outcome = rewriteImage(image, policy);
        const host = parseNormalizedReference(image).domain.toLowerCase();
        if (host === policy.proxyDomain.toLowerCase()) {
          expect(outcome.kind).toBe('proxied');
        } else if (outcome.kind === 'too-long') {
          expect(outcome.image).toBe(image);
          expect(referenceName(parseCandidateName(outcome.candidate)).length).toBeGreaterThan(NAME_TOTAL_LENGTH_MAX);
        } else {
          expect(outcome.kind).toBe('rewritten');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('digest properties', () => {
  // Everything the reference grammar accepts as a digest, weighted towards near misses of the
  // registered algorithms: a length off by one, an upper-case digit, an unregistered name.
  const algorithm = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('sha256', 'sha384', 'sha512') },
    { weight: 1, arbitrary: fc.constantFrom('SHA256', 'Sha512', 'md5', 'sha1', 'sha256+b64u', 'blake3', 'sha512.v2') },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,6}(?:[-_+.][A-Za-z][A-Za-z0-9]{0,3})?$/) },
  );
  const length = fc.oneof(fc.constantFrom(32, 63, 64, 65, 95, 96, 97, 127, 128, 129), fc.integer({ min: 32, max: 160 }));
  const encoded = fc
    .tuple(length, fc.boolean(), fc.nat())
    .chain(([n, upper, at]) =>
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n }).map((hex) => (upper ? `${hex.slice(0, at % n)}${hex.charAt(at % n).toUpperCase()}${hex.slice((at % n) + 1)}` : hex)),
    );
  // The OCI rule as go-digest applies it, written out independently of digest.ts.
  const registered = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
  const policy: RewritePolicy = { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: [prefixOf('quay.io/acme')] };

  it('a private image is proxied exactly when its digest is valid, and otherwise left as written', () => {
    fc.assert(
      fc.property(algorithm, encoded, fc.constantFrom('quay.io/acme/app', 'quay.io/acme/app:1'), (alg, hex, name) => {
        const digest = `${alg}:${hex}`;
        const image = `${name}@${digest}`;
        const outcome = rewriteImage(image, policy);
        if (registered.test(digest)) {
          expect(outcome.kind).toBe('rewritten');
          expect(parseNormalizedReference(outcome.image).digest).toBe(digest);
          expect(rewriteImage(outcome.image, policy).kind).toBe('proxied');
        } else {
          expect(outcome.kind).toBe('invalid');
          expect(outcome.image).toBe(image);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function prefixOf(entry: string): RegistryPrefix {
  const parsed = parseRegistryPrefix(entry);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.prefix;
}

// A too-long candidate does not parse (that is the point), so split its name off by hand.
function parseCandidateName(candidate: string): { domain: string; path: string } {
  const at = candidate.indexOf('@');
  const withoutDigest = at === -1 ? candidate : candidate.slice(0, at);
  const slash = withoutDigest.indexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  const name = lastColon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, lastColon) : withoutDigest;
  return { domain: name.slice(0, slash), path: name.slice(slash + 1) };
}
