// The prefilter never filters out a Pod pullgate would change. For each configuration below and
// every reference of references.ts, in turn in each image location of a Pod: when mutatePod (the
// code that serves /mutate) would change the Pod, the webhook's match condition, evaluated by the
// API server's own CEL packages (cel-match), is true. The agreement of cel-match with the running
// API server is shown on a sample in test/e2e/prefilter.test.ts.
import { describe, expect, it } from 'vitest';
import { mutatePod, type MutationPolicy } from '../../../src/admission/mutate-pod.ts';
import { parseRegistryPrefix, validateProxyDomain } from '../../../src/image/registry-prefix.ts';
import { licenseProxyDomains, prefilterInput, webhookMatchConditions, type PrefilterInput } from '../../../src/k8s/webhook-match-conditions.ts';
import { celMatchUnavailable, evaluateMatchConditions } from '../../cel/cel-match.ts';
import { proofReferences } from './references.ts';

const prefixes = (...entries: string[]) =>
  entries.map((entry) => {
    const parsed = parseRegistryPrefix(entry);
    if (!parsed.ok) throw new Error(`${entry}: ${parsed.problems.join('; ')}`);
    return parsed.prefix;
  });

const LICENSE = `apiVersion: kots.io/v1beta2
kind: License
spec:
  licenseID: proof
  appSlug: my-app
  channelID: beta
  channels:
    - channelID: stable
      isDefault: true
      replicatedProxyDomain: Images.Acme.IO:8443
    - channelID: beta
      replicatedProxyDomain: proxy.example.com
`;

interface Scenario {
  input: PrefilterInput;
  /** The proxy domains pullgate may run with under this configuration. */
  runtimeProxies: string[];
  /** At least this many references are filtered out: the condition does filter. */
  minFiltered: number;
}

const SCENARIOS: Record<string, Scenario> = {
  'a host path and a Docker Hub namespace (the e2e configuration)': {
    input: prefilterInput({ privateRegistries: prefixes('quay.io/acme', 'docker.io/acme'), registryDomain: 'registry.example.com', proxyDomain: 'proxy.example.com' }),
    runtimeProxies: ['proxy.example.com'],
    minFiltered: 12_000,
  },
  'official images, hosts in upper case, a proxy with a port': {
    input: prefilterInput({ privateRegistries: prefixes('docker.io/library/nginx', 'INDEX.DOCKER.IO/library/busybox', 'Docker.io/sub/dir', 'registry-1.docker.io/team'), registryDomain: 'Registry.Example.COM', proxyDomain: 'Proxy.Example.com:8443' }),
    runtimeProxies: ['Proxy.Example.com:8443'],
    minFiltered: 12_000,
  },
  'all of library/, IP and ECR hosts, localhost, an IPv6 proxy': {
    input: prefilterInput({ privateRegistries: prefixes('docker.io/library', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'localhost/acme', '10.1.2.3/team', 'ghcr.io/acme/app/sub'), registryDomain: 'localhost:5000', proxyDomain: '[::1]:5000' }),
    runtimeProxies: ['[::1]:5000'],
    minFiltered: 12_000,
  },
  'all of Docker Hub, the proxy domain from an inline license': {
    input: prefilterInput({ privateRegistries: prefixes('docker.io'), registryDomain: 'registry.replicated.com' }, LICENSE),
    runtimeProxies: licenseProxyDomains(LICENSE),
    minFiltered: 10_000,
  },
  'the proxy domain unknown when rendering (license in an existing Secret)': {
    input: prefilterInput({ privateRegistries: prefixes('quay.io/acme/'), registryDomain: 'registry.example.com' }),
    runtimeProxies: ['proxy.example.com', 'images.acme.io:8443', 'IMAGES.ACME.IO', 'localhost', 'LocalHost:5000', '10.1.2.3:5000', '[::1]:5000', 'quay.com', 'proxy.replicated.com'],
    // Every image with a registry host may be on the proxy: only Docker Hub's are filtered out.
    minFiltered: 1_500,
  },
  'registryDomain docker.io': {
    input: prefilterInput({ privateRegistries: prefixes('quay.io/acme'), registryDomain: 'docker.io', proxyDomain: 'proxy.example.com' }),
    runtimeProxies: ['proxy.example.com'],
    minFiltered: 10_000,
  },
};

const LOCATIONS = ['containers', 'initContainers', 'ephemeralContainers', 'volumes'] as const;

// A Pod needs a container. Beside an image in another location it has one whose image no
// alternative of any pattern matches and pullgate leaves alone (no valid reference starts with "/").
const FILLER = { name: 'main', image: '/' };

function podWith(image: string, i: number): object {
  const location = LOCATIONS[i % LOCATIONS.length]!;
  const spec: Record<string, unknown> =
    location === 'containers' ? { containers: [{ name: 'c', image }] }
    : location === 'volumes' ? { containers: [FILLER], volumes: [{ name: 'v', image: { reference: image } }] }
    : { containers: [FILLER], [location]: [{ name: 'c', image }] };
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'proof' }, spec };
}

function policy(input: PrefilterInput, proxyDomain: string): MutationPolicy {
  return { rewrite: { proxyDomain, appSlug: 'my-app', privateRegistries: input.privateRegistries }, registryDomain: input.registryDomain, pullSecretName: 'my-app-registry' };
}

const references = proofReferences();

describe.skipIf(celMatchUnavailable)('the webhook prefilter, evaluated as the API server evaluates it', () => {
  it.each(Object.entries(SCENARIOS))('lets through every Pod pullgate would change: %s', async (name, { input, runtimeProxies, minFiltered }) => {
    for (const proxy of runtimeProxies) expect(validateProxyDomain(proxy), proxy).toEqual([]);
    const pods = references.map(podWith);
    const changed = pods.map((pod) => runtimeProxies.some((proxy) => mutatePod(pod, 'create', policy(input, proxy)).patch.length > 0));
    const results = await evaluateMatchConditions(webhookMatchConditions(input), pods);

    const errors = results.flatMap((r, i) => (r.error ? [`${references[i]}: ${r.error}`] : []));
    expect(errors).toEqual([]);
    const missed = references.filter((_, i) => changed[i] && !results[i]!.matches);
    expect(missed, 'Pods pullgate would change that the prefilter filters out').toEqual([]);

    const needed = changed.filter(Boolean).length;
    const matched = results.filter((r) => r.matches).length;
    const maxCost = Math.max(...results.map((r) => r.cost));
    console.log(`[figure] prefilter proof, ${name}: ${references.length} references, ${needed} Pods pullgate changes (all matched), ${matched - needed} more matched (false positives), ${references.length - matched} filtered out; highest cost ${maxCost}`);
    // Not a condition that matches everything.
    expect(needed).toBeGreaterThan(1_000);
    expect(references.length - matched).toBeGreaterThan(minFiltered);
  }, 600_000);
});
