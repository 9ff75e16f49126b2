// Image references for the prefilter proof: every string literal of the image tests (the grammar,
// normalization and rewrite cases, valid or not), and a generated cross product of registry hosts
// in every spelling pullgate treats alike or apart (case, Docker Hub's names, ports, near misses),
// paths on and off segment boundaries, tags and digests, plus seeded random case flips.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGE_TESTS = fileURLToPath(new URL('../image/', import.meta.url));
const SHA256 = `sha256:${'be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912'}`;
const SHA512 = `sha512:${'ab'.repeat(64)}`;

/** Every single-quoted literal and every template literal without substitutions in test/unit/image/*.test.ts. */
export function grammarTestLiterals(): string[] {
  const literals = new Set<string>();
  for (const file of readdirSync(IMAGE_TESTS).filter((f) => f.endsWith('.test.ts'))) {
    const source = readFileSync(join(IMAGE_TESTS, file), 'utf8');
    for (const m of source.matchAll(/'((?:[^'\\\n]|\\.)*)'/g)) literals.add(m[1]!.replace(/\\(.)/g, '$1'));
    for (const m of source.matchAll(/`([^`$\\\n]*)`/g)) literals.add(m[1]!);
  }
  return [...literals];
}

export const HOSTS = [
  '', 'docker.io/', 'DOCKER.IO/', 'Docker.io/', 'index.docker.io/', 'Index.Docker.IO/', 'registry-1.docker.io/', 'REGISTRY-1.DOCKER.IO/',
  'docker.io:443/', 'hub.docker.io/', 'mydocker.io/', 'docker.io.evil.com/',
  'quay.io/', 'QUAY.IO/', 'Quay.io/', 'quay.io:443/', 'quay.io.evil.com/', 'evilquay.io/', 'quay.com/',
  'ghcr.io/', 'GHCR.io/', 'registry.k8s.io/', 'gcr.io/',
  '123456789012.dkr.ecr.us-east-1.amazonaws.com/', '123456789012.DKR.ECR.us-east-1.amazonaws.com/', '123456789012.dkr.ecr.us-east-1.amazonaws.com:443/',
  'proxy.example.com/', 'PROXY.EXAMPLE.COM/', 'Proxy.Example.com:8443/', 'proxy.example.com:8443/', 'proxy.example.com.evil/', 'xproxy.example.com/',
  'registry.example.com/', 'Registry.Example.COM/', 'registry.example.com:5000/', 'registry.replicated.com/', 'proxy.replicated.com/',
  'images.acme.io/', 'IMAGES.ACME.IO/', 'images.acme.io:8443/',
  'localhost/', 'LOCALHOST/', 'localhost:5000/', 'LocalHost:5000/', '10.1.2.3/', '10.1.2.3:5000/', '[::1]:5000/', '[::1]/', '[FE80::1]:5000/',
  'foo_bar.com/', 'acme/', 'ACME/', 'library/',
];

export const PATHS = [
  'acme', 'acme/app', 'acme/app/sub', 'acmecorp/app', 'acme-corp/app', 'acme_x/app', 'acme.io/app', 'acm/app', 'acme/', 'ACME/app', 'Acme/app',
  'nginx', 'nginx/foo', 'nginxx', 'library/nginx', 'library/nginx/sub', 'library/nginxx', 'library', 'library/acme', 'busybox',
  'team', 'team/x', 'teams/x', 'sub/dir/x', 'sub/dir', 'sub/dirx/y', 'proxy/my-app/quay.io/acme/app', 'a/b/c/d/e', 'x__y/z', 'x---y/z',
];

export const SUFFIXES = ['', ':1.0', ':latest', ':5000', `@${SHA256}`, `:1@${SHA256}`, `@${SHA512}`, ':', '@sha256:abc', ':Tag_1.x-y'];

/** The generated set: host × path × suffix. */
export function generatedReferences(): string[] {
  return HOSTS.flatMap((host) => PATHS.flatMap((path) => SUFFIXES.map((suffix) => `${host}${path}${suffix}`)));
}

/** A small deterministic generator (mulberry32), so a failure names a reproducible reference. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` variants of generated references with random characters' case flipped. */
export function caseVariants(count: number, seed = 8): string[] {
  const next = random(seed);
  const base = generatedReferences();
  return Array.from({ length: count }, () => {
    const ref = base[Math.floor(next() * base.length)]!;
    return [...ref].map((c) => (next() < 0.3 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('');
  });
}

/** Every reference of the proof, without repeats. */
export function proofReferences(): string[] {
  return [...new Set([...grammarTestLiterals(), ...generatedReferences(), ...caseVariants(5_000)])];
}
