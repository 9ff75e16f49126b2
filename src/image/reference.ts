// Image references, parsed and normalized as github.com/distribution/reference does
// (Parse, ParseNormalizedNamed, FamiliarName, FamiliarString), plus the contract's one addition:
// registry-1.docker.io is Docker Hub too.
//
// Not @swimlane/docker-reference (2.0.1, Dec 2024): it ports an older grammar (no IPv6 hosts, the
// empty `[-]*` separator that backtracks badly), skips the upper-case-domain rule and accepts
// upper-case sha256 hex: it disagrees with distribution on real inputs, so this is a direct port.

import { digestProblem } from './digest.ts';
import { IDENTIFIER, NAME, REFERENCE } from './grammar.ts';

/** Maximum length of a repository name, domain included (distribution's NameTotalLengthMax). */
export const NAME_TOTAL_LENGTH_MAX = 255;

export const DOCKER_HUB_DOMAIN = 'docker.io';
// Names for Docker Hub that normalize to docker.io: the legacy index host (distribution) and the
// registry API host (the contract's addition). Like distribution, matched exactly as written.
export const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set(['index.docker.io', 'registry-1.docker.io']);
export const OFFICIAL_REPO_PREFIX = 'library/';

/**
 * A parsed reference. `domain` is written as in the input (it may hold upper case and a port);
 * it is empty only for the rare names that ParseNormalizedNamed leaves without one, such as
 * `foo_bar.com/x`, whose first component looks like a host but is not a valid one.
 */
export interface ImageReference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

export class InvalidReferenceError extends Error {
  override readonly name = 'InvalidReferenceError';
  /** The text that failed to parse. */
  readonly reference: string;
  /** Why, in distribution's words. */
  readonly reason: string;

  constructor(reference: string, reason: string) {
    super(`invalid image reference ${JSON.stringify(reference)}: ${reason}`);
    this.reference = reference;
    this.reason = reason;
  }
}

/**
 * Parses an image as a container runtime does (distribution's ParseNormalizedNamed): `nginx` →
 * `docker.io/library/nginx`, `acme/app` → `docker.io/acme/app`, `index.docker.io` and
 * `registry-1.docker.io` → `docker.io`. Tag and digest are kept as given; none is invented.
 */
export function parseNormalizedReference(text: string): ImageReference {
  if (IDENTIFIER.test(text)) {
    throw new InvalidReferenceError(text, `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(text);
  // Checked before the grammar so the message names the repository, as distribution's does.
  const tagSeparator = remainder.indexOf(':');
  const remote = tagSeparator === -1 ? remainder : remainder.slice(0, tagSeparator);
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(text, `invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseWith(text, `${domain}/${remainder}`);
}

/**
 * distribution's Parse: the grammar alone, no normalization (`nginx` stays domain-less). Images
 * in Pods mean what parseNormalizedReference says; this is for checking already-canonical text.
 */
export function parseReference(text: string): ImageReference {
  return parseWith(text, text);
}

/** `domain/path[:tag][@digest]`, the canonical string of a normalized reference. */
export function formatReference(ref: ImageReference): string {
  return referenceName(ref) + suffix(ref);
}

/** `domain/path`: the repository name, whose length the grammar caps at 255. */
export function referenceName(ref: ImageReference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The short form people type: `docker.io/library/redis` → `redis`, `docker.io/a/b` → `a/b`. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DOCKER_HUB_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    // `library/foo/bar` stays as is: only one-level official names are shortened.
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** familiarName with the tag and digest: `docker.io/library/busybox:1@sha256:…` → `busybox:1@sha256:…`. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

function suffix(ref: ImageReference): string {
  return (ref.tag === undefined ? '' : `:${ref.tag}`) + (ref.digest === undefined ? '' : `@${ref.digest}`);
}

// distribution's splitDockerDomain: decides whether the first component is a registry host.
// Only "localhost", something with "." or ":", or something with upper case (which a path cannot
// hold) is one; anything else is a Docker Hub namespace.
function splitDockerDomain(text: string): { domain: string; remainder: string } {
  const slash = text.indexOf('/');
  if (slash === -1) {
    return { domain: DOCKER_HUB_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + text };
  }
  const first = text.slice(0, slash);
  const rest = text.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === 'localhost') {
    domain = first;
    remainder = rest;
  } else if (DOCKER_HUB_ALIASES.has(first)) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = rest;
  } else if (first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    domain = first;
    remainder = rest;
  } else {
    domain = DOCKER_HUB_DOMAIN;
    remainder = text;
  }
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return { domain, remainder };
}

// distribution's Parse, reporting errors against the text the user wrote.
function parseWith(original: string, text: string): ImageReference {
  if (text === '') throw new InvalidReferenceError(original, 'repository name must have at least one component');
  const match = REFERENCE.exec(text);
  if (match === null) {
    const lower = text.toLowerCase();
    const reason = lower !== text && REFERENCE.test(lower) ? 'repository name must be lowercase' : 'invalid reference format';
    throw new InvalidReferenceError(original, reason);
  }
  const name = match[1] ?? '';
  // The whole name, domain included, as distribution v0.6.0 and containerd check it (a later
  // distribution change counts only the path; the stricter rule is the one every runtime accepts).
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(original, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const parts = NAME.exec(name);
  const digest = match[3];
  if (digest !== undefined) {
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new InvalidReferenceError(original, problem);
  }
  return {
    domain: parts?.[1] ?? '',
    path: parts?.[2] ?? name,
    ...(match[2] === undefined ? {} : { tag: match[2] }),
    ...(digest === undefined ? {} : { digest }),
  };
}
