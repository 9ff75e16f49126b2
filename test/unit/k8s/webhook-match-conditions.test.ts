// The prefilter's text and its cost bound. That it never filters out a Pod pullgate would change
// is proven in test/unit/prefilter; here: what it says, and that no Pod, however large, makes the
// API server's evaluation fail (an error would skip pullgate under Ignore, refuse the Pod under Fail).
import { describe, expect, it } from 'vitest';
import { parseRegistryPrefix } from '../../../src/image/registry-prefix.ts';
import {
  acceptableMatchConditions,
  LONGEST_REFERENCE,
  licenseProxyDomains,
  prefilterInput,
  prefilterPattern,
  PREFILTER_COST_BUDGET,
  quoteMeta,
  slotCap,
  webhookMatchConditions,
} from '../../../src/k8s/webhook-match-conditions.ts';
import { celMatchUnavailable, evaluateMatchConditions } from '../../cel/cel-match.ts';

const prefixes = (...entries: string[]) => entries.map((e) => {
  const parsed = parseRegistryPrefix(e);
  if (!parsed.ok) throw new Error(e);
  return parsed.prefix;
});
const HUB = '(?:docker\\.io|index\\.docker\\.io|registry-1\\.docker\\.io)';
const SCENARIO = prefilterInput({ privateRegistries: prefixes('quay.io/acme', 'docker.io/acme'), registryDomain: 'registry.example.com', proxyDomain: 'proxy.example.com' });

const pod = (spec: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n' }, spec });
const containers = (images: string[]) => images.map((image, i) => ({ name: `c${i}`, image }));

describe('the prefilter pattern', () => {
  it('anchors each private prefix on whole path segments, with Docker Hub hosts optional for Docker Hub entries, then the registry and proxy hosts', () => {
    expect(prefilterPattern(SCENARIO)).toBe(`(?i)^(?:quay\\.io/acme(?:[/:@]|$)|(?:${HUB}/)?acme(?:[/:@]|$)|registry\\.example\\.com/|proxy\\.example\\.com/)`);
  });

  it('writes official images also as a single component, and all of Docker Hub as any image without a registry host', () => {
    const input = prefilterInput({ privateRegistries: prefixes('docker.io/library/nginx', 'docker.io/library', 'registry-1.docker.io'), registryDomain: 'r.io', proxyDomain: 'p.io' });
    expect(prefilterPattern(input)).toBe(
      `(?i)^(?:(?:${HUB}/)?(?:library/nginx(?:[/:@]|$)|nginx(?:[:@]|$))|(?:${HUB}/)?(?:library/|[^/]*$)|(?:${HUB}/|[^/.:]+/|[^/]*$)|r\\.io/|p\\.io/)`,
    );
  });

  it('without a known proxy domain, matches any image with a registry host', () => {
    const input = prefilterInput({ privateRegistries: prefixes('quay.io'), registryDomain: 'Registry.Example.com:5000' });
    expect(input.proxyDomains).toBeUndefined();
    expect(prefilterPattern(input)).toBe('(?i)^(?:quay\\.io/|registry\\.example\\.com:5000/|(?:[^/]*[.:][^/]*|localhost)/)');
  });

  it("names every proxy domain a license may give (each channel's, the top-level one, the default), in lower case", () => {
    const license = 'spec:\n  replicatedProxyDomain: " Top.Example.com "\n  channels:\n    - replicatedProxyDomain: a.example.com\n    - replicatedProxyDomain: ""\n    - {}\n    - replicatedProxyDomain: 5\n';
    expect(licenseProxyDomains(license)).toEqual(['a.example.com', 'proxy.replicated.com', 'top.example.com']);
    expect(licenseProxyDomains('{{not yaml')).toEqual(['proxy.replicated.com']);
    expect(prefilterInput({ privateRegistries: [], registryDomain: 'r.io', proxyDomain: 'P.io' }, license).proxyDomains).toEqual(['p.io']);
  });

  it("accepts, for comparing a live webhook, the rendering from the license's domains and, without a proxyDomain, the broader one", () => {
    const license = 'spec:\n  replicatedProxyDomain: p.example.com\n';
    const base = { privateRegistries: prefixes('quay.io/acme'), registryDomain: 'r.io' };
    const [known, broad, ...none] = acceptableMatchConditions(base, licenseProxyDomains(license));
    expect(none).toEqual([]);
    expect(known![0]!.expression).toContain('|p\\.example\\.com/|proxy\\.replicated\\.com/)');
    expect(broad).toEqual(webhookMatchConditions(prefilterInput(base)));
    expect(acceptableMatchConditions({ ...base, proxyDomain: 'x.io' }, licenseProxyDomains(license))).toEqual([webhookMatchConditions(prefilterInput({ ...base, proxyDomain: 'x.io' }))]);
  });

  it('quotes as Go regexp.QuoteMeta does', () => {
    expect(quoteMeta('[::1]:5000')).toBe('\\[::1\\]:5000');
    expect(quoteMeta('a.b-c_d')).toBe('a\\.b-c_d');
  });
});

describe.skipIf(celMatchUnavailable)('the prefilter cost, as the API server counts it', () => {
  const conditions = webhookMatchConditions(SCENARIO);
  const cap = slotCap(prefilterPattern(SCENARIO));
  // The longest image the pattern is tried on, matching nothing.
  const longest = `registry.k8s.io/${'a'.repeat(LONGEST_REFERENCE - 'registry.k8s.io/'.length - 4)}:1.0`;

  it('stays within its budget at the worst case it looks at: as many slots as the cap, each image as long as a valid one can be', async () => {
    expect(longest.length).toBe(LONGEST_REFERENCE);
    const [worst, one, overCap] = await evaluateMatchConditions(conditions, [
      pod({ containers: containers(Array(cap).fill(longest)) }),
      pod({ containers: containers(Array(cap - 1).fill(longest)), volumes: [{ name: 'v', configMap: { name: 'x' } }] }),
      pod({ containers: containers(Array(cap + 1).fill(longest)) }),
    ]);
    console.log(`[figure] prefilter cost: slot cap ${cap}, worst case ${worst!.cost} (budget ${PREFILTER_COST_BUDGET}, API server limit 1000000)`);
    expect(worst).toMatchObject({ matches: false });
    expect(worst!.error).toBeUndefined();
    expect(worst!.cost).toBeLessThanOrEqual(PREFILTER_COST_BUDGET);
    expect(worst!.cost).toBeGreaterThan(PREFILTER_COST_BUDGET * 0.9);
    expect(one).toMatchObject({ matches: false });
    // One more slot: sent to pullgate without a look.
    expect(overCap).toMatchObject({ matches: true });
    expect(overCap!.cost).toBeLessThan(100);
  });

  it('compiles and decides the same in the CEL environment of Kubernetes 1.30, the oldest the chart supports', async () => {
    const pods = [pod({ containers: containers(['quay.io/acme/web:1']) }), pod({ containers: containers(['nginx:1.27']), volumes: [{ name: 'v', image: { reference: 'acme/data:1' } }] }), pod({ containers: containers(['nginx']) })];
    const results = await evaluateMatchConditions(conditions, pods, 'Fail', '1.30');
    expect(results.map((r) => [r.matches, r.error])).toEqual([[true, undefined], [true, undefined], [false, undefined]]);
    expect(results).toEqual(await evaluateMatchConditions(conditions, pods));
  });

  it('matches a 10,000-container Pod and a 1 MB image at once, without an error, under either failure policy', async () => {
    for (const policy of ['Fail', 'Ignore'] as const) {
      const results = await evaluateMatchConditions(conditions, [
        pod({ containers: containers(Array(10_000).fill('nginx:1.27')) }),
        pod({ containers: containers(['registry.k8s.io/pause:3.10']), initContainers: containers([`quay.io/${'x'.repeat(1_000_000)}`]) }),
        pod({ containers: containers(['registry.k8s.io/pause:3.10']) }),
      ], policy);
      expect(results.map((r) => [r.matches, r.error])).toEqual([[true, undefined], [true, undefined], [false, undefined]]);
      expect(Math.max(...results.map((r) => r.cost))).toBeLessThan(1_000);
    }
  });

  it('keeps the bound with sixty private registries: a smaller cap, the same budget', async () => {
    const input = prefilterInput({ privateRegistries: prefixes(...Array.from({ length: 60 }, (_, i) => `registry-${i}.example.com/team-${i}/group`)), registryDomain: 'r.io', proxyDomain: 'p.io' });
    const many = slotCap(prefilterPattern(input));
    expect(many).toBeLessThan(cap);
    expect(many).toBeGreaterThanOrEqual(5);
    const [worst] = await evaluateMatchConditions(webhookMatchConditions(input), [pod({ containers: containers(Array(many).fill(longest)) })]);
    expect(worst!.error).toBeUndefined();
    expect(worst!.cost).toBeLessThanOrEqual(PREFILTER_COST_BUDGET);
  });
});
