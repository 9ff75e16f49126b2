// The webhook's prefilter: a CEL matchCondition the API server evaluates before calling pullgate,
// so that only Pods holding an image pullgate may change reach it. A false positive costs one
// needless call; a false negative would admit a private image unrewritten, so every rule below
// errs on the side of matching. The chart renders the same text (_helpers.tpl "pullgate.prefilter";
// test/unit/deploy fails on any difference) and test/unit/prefilter proves the rule against
// pullgate's own rewrite decision, evaluated by the API server's CEL library.
//
// One anchored, case-insensitive RE2 pattern per image, built from:
// - every privateRegistries entry: `host/path` on whole path segments; for Docker Hub entries also
//   the forms without a host (`acme/app`, `nginx`) and with `index.docker.io`/`registry-1.docker.io`;
// - proxyDomain and registryDomain (`host/`): a Pod pulling from them gets the pull secret. When
//   the proxy domain is unknown at render time (it comes from a license in an existing Secret),
//   any image with an explicit registry host matches instead: broader, never missing.
// Case-insensitive throughout: hosts compare that way, and a path with upper case is no valid
// reference, which pullgate leaves alone (a harmless false positive).
//
// Cost: the API server stops a matchCondition past 1,000,000 cost units, and with the webhook's
// failurePolicy an error is then either a skipped call (Ignore: a false negative) or a refused Pod
// (Fail). cel-go charges `matches` (1 + length) / 10 × pattern length / 4, so both factors are
// capped: an image longer than any valid reference, or a Pod with more image slots than the budget
// pays for, matches without looking further.
import type { V1MatchCondition } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_PROXY_DOMAIN } from '../config/license-settings.ts';
import type { PullgateConfig } from '../config/schema.ts';
import type { RegistryPrefix } from '../image/registry-prefix.ts';
import { getIn, isRecord } from '../util/is-record.ts';
import { DOCKER_HUB_ALIASES, DOCKER_HUB_DOMAIN, NAME_TOTAL_LENGTH_MAX, OFFICIAL_REPO_PREFIX } from '../image/reference.ts';

export const PREFILTER_CONDITION_NAME = 'may-pull-privately';

/**
 * No valid reference is longer: a 255-character name, `:` and a 128-character tag, `@` and a
 * sha512 digest (7 + 128). Longer images are invalid, which pullgate leaves unchanged, but they
 * match without a pattern check, which keeps that check's cost bounded.
 */
export const LONGEST_REFERENCE = NAME_TOTAL_LENGTH_MAX + 1 + 128 + 1 + 7 + 128;

/** The cost the condition may spend at most, well inside the API server's 1,000,000 per expression. */
export const PREFILTER_COST_BUDGET = 500_000;
/** Per image slot besides `matches`: list building, optional selects, size, comparisons (measured ≤ 12). */
export const SLOT_OVERHEAD_COST = 20;

export interface PrefilterInput {
  readonly privateRegistries: readonly RegistryPrefix[];
  readonly registryDomain: string;
  /**
   * Every host that may be the proxy domain: the configured one, or each one the license names
   * plus the default. Undefined: unknown when rendering, so any explicit registry host matches.
   */
  readonly proxyDomains: readonly string[] | undefined;
}

const DOCKER_HUB_HOSTS = [DOCKER_HUB_DOMAIN, ...[...DOCKER_HUB_ALIASES].sort()];

/** Go's regexp.QuoteMeta, which sprig's regexQuoteMeta is: the chart quotes the same way. */
export function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

const HUB = `(?:${DOCKER_HUB_HOSTS.map(quoteMeta).join('|')})`;
/** End of a path prefix on a whole segment: a further segment, a tag, a digest, or the end. */
const SEGMENT_END = '(?:[/:@]|$)';
/** Any Docker Hub image: a hub host, a first component that is no host (no `.` or `:`), or a single component. */
const ANY_HUB = `(?:${HUB}/|[^/.:]+/|[^/]*$)`;
/** Any image with an explicit registry host (a first component with `.` or `:`, or localhost). */
const ANY_HOST = '(?:[^/]*[.:][^/]*|localhost)/';

function isDockerHub(host: string): boolean {
  return DOCKER_HUB_HOSTS.includes(host.toLowerCase());
}

/** The alternatives one privateRegistries entry contributes. */
function prefixAlternative(prefix: RegistryPrefix): string {
  const path = prefix.pathSegments.map(quoteMeta).join('/');
  if (prefix.host !== DOCKER_HUB_DOMAIN) return prefix.pathSegments.length === 0 ? `${quoteMeta(prefix.host)}/` : `${quoteMeta(prefix.host)}/${path}${SEGMENT_END}`;
  if (prefix.pathSegments.length === 0) return ANY_HUB;
  const official = OFFICIAL_REPO_PREFIX.slice(0, -1);
  if (prefix.pathSegments[0] === official && prefix.pathSegments.length === 1) {
    // All of library/: written as library/…, or as a single component (nginx, nginx:1).
    return `(?:${HUB}/)?(?:${official}/|[^/]*$)`;
  }
  if (prefix.pathSegments[0] === official && prefix.pathSegments.length === 2) {
    // library/nginx is also written nginx[:tag][@digest].
    const name = quoteMeta(prefix.pathSegments[1]!);
    return `(?:${HUB}/)?(?:${path}${SEGMENT_END}|${name}(?:[:@]|$))`;
  }
  return `(?:${HUB}/)?${path}${SEGMENT_END}`;
}

/** The host alternative of a registry the Pod needs the pull secret for. */
function hostAlternative(host: string): string {
  return isDockerHub(host) ? ANY_HUB : `${quoteMeta(host.toLowerCase())}/`;
}

/** The RE2 pattern an image matches when pullgate may change a Pod holding it. */
export function prefilterPattern(input: PrefilterInput): string {
  const alternatives = [
    ...input.privateRegistries.map(prefixAlternative),
    hostAlternative(input.registryDomain),
    ...(input.proxyDomains === undefined ? [ANY_HOST] : input.proxyDomains.map(hostAlternative)),
  ];
  return `(?i)^(?:${[...new Set(alternatives)].join('|')})`;
}

/** How many image slots the budget pays for when every image is as long as a valid one can be. */
export function slotCap(pattern: string): number {
  const perSlot = Math.ceil((LONGEST_REFERENCE + 1) / 10) * Math.ceil(pattern.length / 4) + SLOT_OVERHEAD_COST;
  return Math.floor(PREFILTER_COST_BUDGET / perSlot);
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** The CEL expression: true when the Pod holds an image the pattern matches, or is too large to look at. */
export function prefilterExpression(input: PrefilterInput): string {
  const pattern = prefilterPattern(input);
  const lists = [...CONTAINER_LISTS, 'volumes'].map((list) => `object.?spec.?${list}.orValue([])`);
  const images = [
    ...CONTAINER_LISTS.map((list) => `object.?spec.?${list}.orValue([]).map(c, c.?image.orValue(''))`),
    "object.?spec.?volumes.orValue([]).map(v, v.?image.?reference.orValue(''))",
  ];
  return [
    `${lists.map((l) => `size(${l})`).join(' + ')} > ${slotCap(pattern)} ||`,
    `(${images.join(' +\n  ')}).exists(i, size(i) > ${LONGEST_REFERENCE} || i.matches(r'${pattern}'))`,
  ].join('\n');
}

/** The webhook's matchConditions for a configuration: one condition, the prefilter. */
export function webhookMatchConditions(input: PrefilterInput): V1MatchCondition[] {
  return [{ name: PREFILTER_CONDITION_NAME, expression: prefilterExpression(input) }];
}

/**
 * Every proxy domain a License document may give pullgate: each channel's and the top-level
 * replicatedProxyDomain, and the default. Which one applies depends on the channel (license.ts);
 * naming them all keeps the prefilter right whichever it is, and keeps the chart's YAML reading
 * (fromYaml) out of that choice. Lower case, sorted, without repeats.
 */
export function licenseProxyDomains(licenseText: string): string[] {
  let document: unknown;
  try {
    document = parseYaml(licenseText);
  } catch {
    document = undefined;
  }
  const spec = getIn(document, ['spec']);
  const channels = getIn(spec, ['channels']);
  const named = [getIn(spec, ['replicatedProxyDomain']), ...(Array.isArray(channels) ? channels.filter(isRecord).map((c) => c.replicatedProxyDomain) : [])];
  const domains = named.filter((d): d is string => typeof d === 'string' && d.trim() !== '').map((d) => d.trim().toLowerCase());
  return [...new Set([...domains, DEFAULT_PROXY_DOMAIN])].sort();
}

/**
 * The prefilter's input for a configuration: its proxyDomain when set; else the domains the
 * License document may give (when its text is known as the conditions are rendered); else unknown.
 */
export function prefilterInput(config: Pick<PullgateConfig, 'privateRegistries' | 'registryDomain' | 'proxyDomain'>, licenseText?: string): PrefilterInput {
  const proxyDomains = config.proxyDomain !== undefined ? [config.proxyDomain.toLowerCase()] : licenseText !== undefined ? licenseProxyDomains(licenseText) : undefined;
  return { privateRegistries: config.privateRegistries, registryDomain: config.registryDomain, proxyDomains };
}

/**
 * Every rendering of the conditions that is right for this configuration and the proxy domains its
 * License document may give (licenseProxyDomains): the one naming them (the configured proxyDomain,
 * or a chart given the license inline) and, without a configured proxyDomain, the broader one a
 * chart renders when the license is in an existing Secret. For comparing a live webhook with the
 * configuration.
 */
export function acceptableMatchConditions(config: Pick<PullgateConfig, 'privateRegistries' | 'registryDomain' | 'proxyDomain'>, proxyDomainsOfLicense?: readonly string[]): V1MatchCondition[][] {
  const broad = webhookMatchConditions(prefilterInput(config));
  if (config.proxyDomain !== undefined) return [broad];
  if (proxyDomainsOfLicense === undefined) return [broad];
  const known = webhookMatchConditions({ ...prefilterInput(config), proxyDomains: [...proxyDomainsOfLicense] });
  return [known, broad];
}
