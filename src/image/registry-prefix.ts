// Start-time checks for the image-related settings: `privateRegistries` entries, `appSlug` and
// `proxyDomain`. Each check returns every problem it finds, in words meant for the person who
// wrote the config file, so the config loader can list them all at once.
//
// Why hosts with a port or IPv6 literals are refused: a rewritten image is
// `<proxyDomain>/proxy/<appSlug>/<host>/<path>`, so the upstream host becomes a repository path
// component, and path components are lower-case letters, digits and . _ - only: no ":" or "[]".

import { DOMAIN_AND_PORT, DOMAIN_NAME, PATH_COMPONENT } from './grammar.ts';
import { DOCKER_HUB_ALIASES, DOCKER_HUB_DOMAIN } from './reference.ts';

/** A normalized `privateRegistries` entry: a lower-case host and zero or more path segments. */
export interface RegistryPrefix {
  readonly host: string;
  readonly pathSegments: readonly string[];
}

/** A parsed entry, or every problem with it (messages do not repeat the entry; callers name it). */
export type ParsedRegistryPrefix =
  | { readonly ok: true; readonly prefix: RegistryPrefix }
  | { readonly ok: false; readonly problems: readonly string[] };

// Every spelling of Docker Hub's host, lower case. Config hosts are case-insensitive, so unlike
// image references these are matched after lower-casing.
export const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set([DOCKER_HUB_DOMAIN, ...DOCKER_HUB_ALIASES]);

const PATH_COMPONENT_RULE = 'lower-case letters and digits, separated by ".", "_", "__" or dashes';

/**
 * Parses a `privateRegistries` entry: a registry host (`quay.io`,
 * `123456789012.dkr.ecr.us-east-1.amazonaws.com`) or a host and a path prefix (`quay.io/acme`,
 * `docker.io/acme`). Docker Hub's other host names become `docker.io`; the host is lower-cased.
 * A path prefix is taken as written: `docker.io/acme` is the namespace `acme`, not `library/acme`.
 */
export function parseRegistryPrefix(entry: string): ParsedRegistryPrefix {
  if (entry === '') return fail(['is empty; expected a registry host, optionally followed by a path (e.g. quay.io/acme)']);
  if (/\s/.test(entry)) return fail(['contains white space']);
  if (entry.includes('://')) {
    return fail(['is a URL; write the registry host and an optional path without a scheme (e.g. quay.io/acme)']);
  }

  // One trailing slash is harmless ("quay.io/acme/"); anything else empty is reported below.
  const trimmed = entry.endsWith('/') ? entry.slice(0, -1) : entry;
  const slash = trimmed.indexOf('/');
  const rawHost = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const segments = slash === -1 ? [] : trimmed.slice(slash + 1).split('/');

  // A Set: "a/b:1/c:2" would otherwise repeat the same complaint per segment.
  const problems = [...new Set([...hostProblems(rawHost), ...segments.flatMap((s) => segmentProblems(s))])];
  if (problems.length > 0) return fail(problems);

  const lower = rawHost.toLowerCase();
  const host = DOCKER_HUB_HOSTS.has(lower) ? DOCKER_HUB_DOMAIN : lower;
  return { ok: true, prefix: Object.freeze({ host, pathSegments: Object.freeze(segments) }) };
}

/** `host[/segment...]`, for messages and logs. */
export function formatRegistryPrefix(prefix: RegistryPrefix): string {
  return [prefix.host, ...prefix.pathSegments].join('/');
}

/**
 * Whether an image at `host` (as written in the reference; compared lower-cased, port included)
 * with repository `path` lies under `prefix`, on whole path segments: `quay.io/acme` covers
 * `quay.io/acme` and `quay.io/acme/web`, not `quay.io/acmecorp/web`.
 */
export function prefixCovers(prefix: RegistryPrefix, host: string, path: string): boolean {
  if (host.toLowerCase() !== prefix.host) return false;
  if (prefix.pathSegments.length === 0) return true;
  const segments = path.split('/');
  if (segments.length < prefix.pathSegments.length) return false;
  return prefix.pathSegments.every((segment, i) => segments[i] === segment);
}

/** Problems with `appSlug`, which becomes one path component of every rewritten image. */
export function validateAppSlug(slug: string): string[] {
  const shown = JSON.stringify(slug);
  if (slug === '') return ['appSlug is empty'];
  if (slug.includes('/')) return [`appSlug ${shown} must be a single path component (no "/")`];
  if (slug.toLowerCase() !== slug) return [`appSlug ${shown} must be lower case`];
  if (!PATH_COMPONENT.test(slug)) return [`appSlug ${shown} is not a valid image path component: ${PATH_COMPONENT_RULE}`];
  return [];
}

/**
 * Problems with `proxyDomain`, the registry host (port allowed) that rewritten images point at.
 * It must read as a host when it starts an image reference, or `proxy.local/proxy/…` would be
 * taken for a Docker Hub path and the rewrite would stop being a fixed point; and it cannot be
 * Docker Hub, whose names normalize to `docker.io` and would never compare equal to it.
 */
export function validateProxyDomain(domain: string): string[] {
  const shown = JSON.stringify(domain);
  if (domain === '') return ['proxyDomain is empty'];
  if (!DOMAIN_AND_PORT.test(domain)) {
    return [`proxyDomain ${shown} is not a registry host: expected a host name or IP address with an optional port, without a scheme or path`];
  }
  const lower = domain.toLowerCase();
  if (DOCKER_HUB_HOSTS.has(lower)) return [`proxyDomain ${shown} cannot be Docker Hub`];
  if (lower !== 'localhost' && !lower.includes('.') && !lower.includes(':')) {
    return [
      `proxyDomain ${shown} does not read as a registry host in an image reference (it needs a ".", a port, or to be localhost); images on it would be taken for Docker Hub images`,
    ];
  }
  return [];
}

function hostProblems(host: string): string[] {
  const shown = JSON.stringify(host);
  if (host === '') return ['has no registry host before the first "/"'];
  const because = 'because a rewritten image holds the upstream host as a path component, which cannot contain';
  if (host.startsWith('[')) return [`host ${shown} is an IPv6 address, which cannot be proxied ${because} "[", "]" or ":"`];
  if (host.includes(':')) {
    if (DOMAIN_AND_PORT.test(host)) return [`host ${shown} has a port, which cannot be proxied ${because} ":"`];
    return [`${shown} is not a valid registry host`];
  }
  if (!DOMAIN_NAME.test(host)) return [`${shown} is not a valid registry host`];
  const lower = host.toLowerCase();
  if (lower !== 'localhost' && !lower.includes('.')) {
    return [
      `${shown} is not a registry host: in an image reference a first component without a "." is a Docker Hub namespace; write docker.io/${lower} for that`,
    ];
  }
  // Every lower-cased host name is a valid path component; kept as a guard on the grammar.
  if (!PATH_COMPONENT.test(lower)) return [`host ${shown} cannot be written as an image path component`];
  return [];
}

function segmentProblems(segment: string): string[] {
  if (segment === '') return ['has an empty path segment'];
  if (segment.includes(':') || segment.includes('@')) return ['must not contain a tag or digest; give a host and an optional path prefix only'];
  if (segment.toLowerCase() !== segment) return [`path segment ${JSON.stringify(segment)} must be lower case, as image paths are`];
  if (!PATH_COMPONENT.test(segment)) {
    return [`path segment ${JSON.stringify(segment)} is not a valid image path component: ${PATH_COMPONENT_RULE}`];
  }
  return [];
}

function fail(problems: string[]): ParsedRegistryPrefix {
  return { ok: false, problems };
}
