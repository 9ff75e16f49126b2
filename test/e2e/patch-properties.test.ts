import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { rewriteImage } from '../../src/image/rewrite.ts';
import { prefixes } from '../unit/admission/policy-fixture.ts';
import { e2e, unavailable } from './support/env.ts';
import { APP_NAMESPACE, PROXY, REGISTRY, SECRET_NAME } from './support/scenario.ts';

const ORIGINAL_IMAGES = 'pullgate.dev/original-images';

/** The registry an image pulls from, by the Docker rule: a first component with a dot or a colon (or localhost) is a host; otherwise Docker Hub. */
function registryHost(image: string): string {
  const first = image.split('/', 1)[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first.toLowerCase() : 'docker.io';
}

// Generated Pods through the real API server, which applies pullgate's patches with
// evanphx/json-patch: every patch applies (the webhook fails closed in these tests, so a patch the
// server cannot apply would reject the Pod) and the stored result is exactly what the rule says.
const policy = { proxyDomain: PROXY, appSlug: 'my-app', privateRegistries: prefixes('quay.io/acme', 'docker.io/acme') };
const image = fc
  .tuple(
    fc.constantFrom('quay.io/acme', 'QUAY.IO/acme', 'acme', 'index.docker.io/acme', 'quay.io/acmecorp', 'ghcr.io/acme', `${PROXY}/proxy/my-app/quay.io/acme`, 'library', 'registry.example.com/my-app'),
    fc.constantFrom('web', 'tools/cli'),
    fc.constantFrom('', ':1.0', `@sha256:${'e'.repeat(64)}`, `:2@sha256:${'f'.repeat(64)}`),
  )
  .map(([h, r, s]) => `${h}/${r}${s}`);
const containers = (prefix: string, min: number) =>
  fc.array(image, { minLength: min, maxLength: 3 }).map((images) => images.map((img, i) => ({ name: `${prefix}${i}`, image: img })));
const podArb = fc.record({
  containers: containers('c', 1),
  initContainers: containers('i', 0),
  pullSecrets: fc.constantFrom<Array<{ name: string }> | null | undefined>(undefined, null, [], [{ name: 'own' }], [{ name: SECRET_NAME }]),
  annotations: fc.constantFrom<Record<string, string> | null | undefined>(undefined, null, { 'team.example.com/owner': 'x' }),
});

describe.skipIf(unavailable)('patches through the API server', () => {
  it('apply to every generated Pod and store exactly the rewritten images', async () => {
    const { client } = e2e();
    const samples = [
      ...fc.sample(podArb, { numRuns: 25, seed: 20261127 }),
      // Corners the sample may miss: only the registry domain needs the secret; nothing needs it.
      { containers: [{ name: 'c0', image: 'registry.example.com/my-app/web:1.0' }], initContainers: [], pullSecrets: null, annotations: undefined },
      { containers: [{ name: 'c0', image: 'library/web' }], initContainers: [{ name: 'i0', image: 'REGISTRY.EXAMPLE.COM/my-app/tools/cli' }], pullSecrets: [{ name: 'own' }], annotations: null },
      { containers: [{ name: 'c0', image: 'ghcr.io/acme/web:1.0' }], initContainers: [], pullSecrets: [], annotations: { 'team.example.com/owner': 'x' } },
    ];
    const pods = samples.map((s, n) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `generated-${n}`, namespace: APP_NAMESPACE, ...(s.annotations !== undefined ? { annotations: s.annotations } : {}) },
      spec: { containers: s.containers, initContainers: s.initContainers, ...(s.pullSecrets !== undefined ? { imagePullSecrets: s.pullSecrets } : {}) },
    }));
    const out = await client.kubectl(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }) });
    // One YAML document per created object.
    const stored: any[] = parseAllDocuments(out.stdout).map((d) => d.toJS());
    expect(stored).toHaveLength(pods.length);
    const seen = { rewritten: 0, untouched: 0, secretAppended: 0, secretAlreadyListed: 0, noSecret: 0, registryOnly: 0 };
    stored.forEach((pod, n) => {
      const sent = pods[n]!;
      const what = `${sent.metadata.name}: ${JSON.stringify(sent)}`;
      const slots = [
        ...sent.spec.containers.map((c) => ({ key: `containers/${c.name}`, image: c.image })),
        ...sent.spec.initContainers.map((c) => ({ key: `initContainers/${c.name}`, image: c.image })),
      ].map((slot) => {
        const o = rewriteImage(slot.image, policy);
        return { ...slot, after: o.kind === 'rewritten' ? o.image : slot.image, rewritten: o.kind === 'rewritten' };
      });
      const after = (prefix: string) => slots.filter((s) => s.key.startsWith(`${prefix}/`)).map((s) => s.after);
      expect(pod.spec.containers.map((c: { image: string }) => c.image), what).toEqual(after('containers'));
      expect((pod.spec.initContainers ?? []).map((c: { image: string }) => c.image), what).toEqual(after('initContainers'));

      // The pull secret: the list as sent, plus SECRET_NAME at the end when a (rewritten) image
      // pulls from the proxy or the registry and the Pod does not list it already.
      const sentSecrets = sent.spec.imagePullSecrets ?? [];
      const needsSecret = slots.some((s) => [PROXY, REGISTRY].includes(registryHost(s.after)));
      const expectedSecrets = needsSecret && !sentSecrets.some((s) => s.name === SECRET_NAME) ? [...sentSecrets, { name: SECRET_NAME }] : sentSecrets;
      expect(pod.spec.imagePullSecrets, what).toEqual(expectedSecrets.length > 0 ? expectedSecrets : undefined);
      if (needsSecret && !slots.some((s) => registryHost(s.after) === PROXY)) seen.registryOnly++;
      if (!needsSecret) seen.noSecret++;
      else if (expectedSecrets === sentSecrets) seen.secretAlreadyListed++;
      else seen.secretAppended++;

      // The annotation: each rewritten slot and its original image; no annotation when none was.
      const rewritten = Object.fromEntries(slots.filter((s) => s.rewritten).map((s) => [s.key, s.image]));
      const { [ORIGINAL_IMAGES]: recorded, ...others } = (pod.metadata.annotations ?? {}) as Record<string, string>;
      if (Object.keys(rewritten).length > 0) expect(JSON.parse(recorded!), what).toEqual(rewritten);
      else expect(recorded, what).toBeUndefined();
      expect(others, what).toEqual(sent.metadata.annotations ?? {});
      if (Object.keys(rewritten).length > 0) seen.rewritten++;
      else seen.untouched++;
    });
    // The sample exercises every branch of the properties above.
    for (const [branch, count] of Object.entries(seen)) expect(count, branch).toBeGreaterThan(0);
  });
});
