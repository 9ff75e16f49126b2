// The image rewrite rule of the contract: one image string in, one decision out. Pure, no I/O.
//
// The rewritten image keeps the original's normalization: `nginx` private under
// `docker.io/library` becomes `<proxy>/proxy/<app>/docker.io/library/nginx`, the same repository
// a runtime would have pulled, with the tag and digest exactly as given (none is invented).

import { DOCKER_HUB_HOSTS, prefixCovers, type RegistryPrefix } from './registry-prefix.ts';
import {
  DOCKER_HUB_DOMAIN,
  formatReference,
  InvalidReferenceError,
  OFFICIAL_REPO_PREFIX,
  NAME_TOTAL_LENGTH_MAX,
  parseNormalizedReference,
  referenceName,
  type ImageReference,
} from './reference.ts';

/**
 * What rewriting needs. `proxyDomain` must have passed validateProxyDomain and `appSlug`
 * validateAppSlug (checked once at start); given that, every rewritten image is a valid reference
 * that rewrites to itself.
 */
export interface RewritePolicy {
  readonly proxyDomain: string;
  readonly appSlug: string;
  readonly privateRegistries: readonly RegistryPrefix[];
}

export type RewriteOutcome =
  /** Already on proxyDomain: unchanged, but it counts as a proxied image. */
  | { readonly kind: 'proxied'; readonly image: string }
  /** Private image, now pointing at the proxy; `original` is the image as written. */
  | { readonly kind: 'rewritten'; readonly image: string; readonly original: string }
  /** Public image or another registry: unchanged. */
  | { readonly kind: 'unchanged'; readonly image: string }
  /** Not a valid reference: unchanged; the caller warns, naming it. */
  | { readonly kind: 'invalid'; readonly image: string; readonly reason: string }
  /** Private, but the proxied name would pass 255 characters: unchanged; the caller warns. */
  | { readonly kind: 'too-long'; readonly image: string; readonly candidate: string };

/**
 * Where a reference really pulls from. Hosts compare case-insensitively (contract), so every case
 * of Docker Hub's spellings is Docker Hub, with `library/` for one-level names, although the
 * distribution parser, being exact, keeps `INDEX.DOCKER.IO` as a host of its own.
 */
function registryLocation(ref: ImageReference): { host: string; path: string } {
  const host = ref.domain.toLowerCase();
  if (!DOCKER_HUB_HOSTS.has(host)) return { host, path: ref.path };
  return { host: DOCKER_HUB_DOMAIN, path: ref.path.includes('/') ? ref.path : OFFICIAL_REPO_PREFIX + ref.path };
}

export function rewriteImage(image: string, policy: RewritePolicy): RewriteOutcome {
  let ref: ImageReference;
  try {
    ref = parseNormalizedReference(image);
  } catch (error) {
    if (!(error instanceof InvalidReferenceError)) throw error;
    return { kind: 'invalid', image, reason: error.reason };
  }
  // Exact host comparison, port included: `proxy.example.com.evil` or `proxy.example.com:8443`
  // are other registries.
  const { host, path } = registryLocation(ref);
  if (host === policy.proxyDomain.toLowerCase()) return { kind: 'proxied', image };
  if (!policy.privateRegistries.some((prefix) => prefixCovers(prefix, host, path))) {
    return { kind: 'unchanged', image };
  }
  const proxied: ImageReference = {
    domain: policy.proxyDomain,
    // The host goes in lower case: a path component cannot hold upper case.
    path: `proxy/${policy.appSlug}/${host}/${path}`,
    tag: ref.tag,
    digest: ref.digest,
  };
  const candidate = formatReference(proxied);
  if (referenceName(proxied).length > NAME_TOTAL_LENGTH_MAX) return { kind: 'too-long', image, candidate };
  return { kind: 'rewritten', image: candidate, original: image };
}

/**
 * The registry host of an image, lower-cased with its port (`docker.io` for `nginx`,
 * `index.docker.io/x`, `registry-1.docker.io/x`), or undefined when the image is not a valid reference or has no host.
 */
export function hostOf(image: string): string | undefined {
  try {
    const { host } = registryLocation(parseNormalizedReference(image));
    return host === '' ? undefined : host;
  } catch {
    return undefined;
  }
}
