// Digest checks beyond the grammar, as github.com/opencontainers/go-digest (v1.0.0) applies them
// when distribution parses a reference (Parse → digest.Parse → Validate): only a registered
// algorithm is accepted, and it must carry exactly its hash size in lower-case hex. Messages are
// go-digest's own. A reference a runtime would refuse is not a reference pullgate rewrites.

// Algorithm → length of its hex encoding: go-digest's registered set. The OCI image spec registers
// sha256 and sha512; go-digest adds sha384, which every runtime built on it accepts too.
const HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

const LOWER_HEX = /^[a-f0-9]+$/;
// go-digest's DigestRegexp, for the algorithm part. The reference grammar also lets upper case
// through, which go-digest calls a format error rather than an unknown algorithm.
const GO_DIGEST_ALGORITHM = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;

/** Returns why `digest` (already matching the grammar's `algorithm:hex`) is invalid, or undefined. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = HEX_LENGTH.get(algorithm);
  if (length === undefined) {
    return GO_DIGEST_ALGORITHM.test(algorithm) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
  }
  if (encoded.length !== length) return 'invalid checksum digest length';
  if (!LOWER_HEX.test(encoded)) return 'invalid checksum digest format';
  return undefined;
}
