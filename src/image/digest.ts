// Digest checks beyond the grammar, as github.com/opencontainers/go-digest applies them when
// distribution parses a reference: a registered algorithm must carry exactly its hash size in
// lower-case hex. Messages are go-digest's own.
//
// One deliberate difference: go-digest refuses algorithms it has no hash for ("unsupported digest
// algorithm"). Here an unknown algorithm is accepted as long as it fits the grammar, which the
// caller has already matched: pullgate only routes images, and the container runtime stays the
// judge of what it can verify.

// Algorithm → length of its hex encoding (go-digest's registered set).
const HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

const LOWER_HEX = /^[a-f0-9]+$/;

/** Returns why `digest` (already matching the grammar's `algorithm:hex`) is invalid, or undefined. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = HEX_LENGTH.get(algorithm);
  if (length === undefined) return undefined;
  if (encoded.length !== length) return 'invalid checksum digest length';
  if (!LOWER_HEX.test(encoded)) return 'invalid checksum digest format';
  return undefined;
}
