import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { rewriteImage } from '../../src/image/rewrite.ts';
import { prefixes } from '../unit/admission/policy-fixture.ts';
import { e2e, unavailable } from './support/env.ts';
import { APP_NAMESPACE, PROXY, SECRET_NAME } from './support/scenario.ts';

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
    const samples = fc.sample(podArb, { numRuns: 25, seed: 20261127 });
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
    stored.forEach((pod, n) => {
      const sent = pods[n]!;
      const expected = (list: Array<{ image: string }>) => list.map((c) => { const o = rewriteImage(c.image, policy); return o.kind === 'rewritten' ? o.image : c.image; });
      expect(pod.spec.containers.map((c: { image: string }) => c.image), sent.metadata.name).toEqual(expected(sent.spec.containers));
      expect((pod.spec.initContainers ?? []).map((c: { image: string }) => c.image)).toEqual(expected(sent.spec.initContainers));
      const names = (pod.spec.imagePullSecrets ?? []).map((s: { name: string }) => s.name);
      expect(names.filter((x: string) => x === SECRET_NAME).length).toBeLessThanOrEqual(1);
      if (sent.spec.imagePullSecrets?.some((s) => s.name === 'own')) expect(names[0]).toBe('own');
      if (sent.metadata.annotations?.['team.example.com/owner']) expect(pod.metadata.annotations['team.example.com/owner']).toBe('x');
    });
  });
});
