import fc from 'fast-check';
import fjp from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../../src/admission/mutate-pod.ts';
import type { MutationMode } from '../../../src/admission/pod-images.ts';
import { rewriteImage } from '../../../src/image/rewrite.ts';
import { POLICY } from './policy-fixture.ts';

const { applyPatch, deepClone } = fjp;

// Image references drawn from every class the rule distinguishes: private (each prefix, Docker Hub
// spellings, upper-case hosts), near misses, already proxied, the vendor registry, public, invalid.
const repo = fc.constantFrom('web', 'api', 'tools/cli', 'a.b_c-d');
const host = fc.constantFrom(
  'quay.io/acme', 'QUAY.IO/acme', 'docker.io/acme', 'index.docker.io/acme', 'registry-1.docker.io/acme', 'acme',
  '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'quay.io/acmecorp', 'quay.io', 'ghcr.io/acme', 'proxy.example.com/proxy/my-app/quay.io/acme',
  'proxy.example.com:443', 'registry.example.com/my-app', 'localhost:5000/acme', 'library',
);
const suffix = fc.constantFrom('', ':1.0', ':latest', `@sha256:${'b'.repeat(64)}`, `:v2@sha256:${'c'.repeat(64)}`);
const validImage = fc.tuple(host, repo, suffix).map(([h, r, s]) => `${h}/${r}${s}`);
const invalidImage = fc.constantFrom('UPPER/Case', 'quay.io/acme/web:', 'a//b', ':nope', '');
const image = fc.oneof({ weight: 6, arbitrary: validImage }, { weight: 1, arbitrary: invalidImage }, { weight: 1, arbitrary: fc.constantFrom('nginx', 'busybox:1.36') });
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const container = fc.record({ name, image, imagePullPolicy: fc.constantFrom('Always', 'IfNotPresent') }, { requiredKeys: ['name', 'image'] });
const volume = fc.oneof(
  fc.record({ name, image: fc.record({ reference: image, pullPolicy: fc.constant('IfNotPresent') }) }),
  fc.record({ name, emptyDir: fc.constant({}) }),
);
const pod = fc.record(
  {
    apiVersion: fc.constant('v1'),
    kind: fc.constant('Pod'),
    // Shapes a JSON patch must cope with: metadata or annotations absent, or explicitly null.
    metadata: fc.oneof(
      { weight: 8, arbitrary: fc.record(
        {
          name,
          labels: fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('x', 'y')),
          annotations: fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.constantFrom('a/b', 'x~y', 'plain'), fc.string()) }, { weight: 1, arbitrary: fc.constant(null) }),
        },
        { requiredKeys: ['name'] },
      ) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    spec: fc.record(
      {
        containers: fc.array(container, { minLength: 1, maxLength: 4 }),
        initContainers: fc.array(container, { maxLength: 2 }),
        ephemeralContainers: fc.array(container, { maxLength: 2 }),
        volumes: fc.array(volume, { maxLength: 3 }),
        imagePullSecrets: fc.oneof(
          { weight: 5, arbitrary: fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'my-app-registry') }), { maxLength: 3 }) },
          { weight: 1, arbitrary: fc.constant(null) },
        ),
        nodeSelector: fc.dictionary(fc.constantFrom('zone'), fc.constantFrom('z1')),
      },
      { requiredKeys: ['containers'] },
    ),
  },
  { requiredKeys: ['apiVersion', 'kind', 'spec'] },
);
const mode = fc.constantFrom<MutationMode>('create', 'update', 'ephemeral');

// What an update did to each container and init container (at most 4 + 2) of the stored Pod.
type Change = { kind: 'same' } | { kind: 'missing' } | { kind: 'image'; image: string };
const change = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Change>({ kind: 'same' }) },
  { weight: 1, arbitrary: fc.constant<Change>({ kind: 'missing' }) },
  { weight: 3, arbitrary: image.map((i): Change => ({ kind: 'image', image: i })) },
);
const changes = fc.array(change, { minLength: 6, maxLength: 6 });

const LOCATIONS: Record<MutationMode, string[]> = {
  create: ['containers', 'initContainers', 'ephemeralContainers', 'volumes'],
  update: ['containers', 'initContainers'],
  ephemeral: ['ephemeralContainers'],
};

type AnyPod = { metadata?: { annotations?: Record<string, string> | null }; spec: Record<string, Array<Record<string, any>> | undefined | null> };

/** The Pod with every image, the pull secret list and pullgate's annotation blanked out. */
function withoutMutableParts(p: AnyPod) {
  const copy = deepClone(p) as AnyPod;
  for (const location of ['containers', 'initContainers', 'ephemeralContainers']) copy.spec[location]?.forEach((c) => (c.image = '*'));
  copy.spec.volumes?.forEach((v) => v.image && (v.image.reference = '*'));
  // pullgate may add imagePullSecrets, annotations and metadata where they were absent or null:
  // empty or missing, they are the same Pod.
  delete copy.spec.imagePullSecrets;
  if (copy.metadata?.annotations) delete copy.metadata.annotations['pullgate.dev/original-images'];
  if (copy.metadata && (copy.metadata.annotations === null || Object.keys(copy.metadata.annotations ?? {}).length === 0)) delete copy.metadata.annotations;
  if (copy.metadata && Object.keys(copy.metadata).length === 0) delete copy.metadata;
  return copy;
}

function imagesAt(p: AnyPod, location: string): string[] {
  return (p.spec[location] ?? []).map((e) => (location === 'volumes' ? e.image?.reference : e.image)).filter((i) => i !== undefined);
}

function referencesSecret(p: AnyPod): boolean {
  return (p.spec.imagePullSecrets ?? []).some((s) => s.name === 'my-app-registry');
}

/**
 * An update of `p` and the stored Pod it came from, as `changes` says, with container names made
 * unique per location as the API server requires; `changed` flags each image the update changes.
 */
function update(p: AnyPod, changes: Change[]) {
  const next = deepClone(p) as AnyPod;
  const old = deepClone(p) as AnyPod;
  const changed: Record<string, boolean[]> = {};
  let k = 0;
  for (const location of ['containers', 'initContainers']) {
    const entries = next.spec[location];
    if (!entries) continue;
    entries.forEach((c, i) => (c.name = `${location[0]}${i}`));
    const flags: boolean[] = [];
    old.spec[location] = entries.flatMap((c) => {
      const what = changes[k++]!;
      flags.push(what.kind === 'missing' || (what.kind === 'image' && what.image !== c.image));
      if (what.kind === 'missing') return [];
      return [{ ...c, image: what.kind === 'image' ? what.image : c.image }];
    });
    changed[location] = flags;
  }
  return { next, old, changed };
}

describe('mutatePod properties', () => {
  it('patches apply cleanly, change exactly the images they may, keep everything else, and are a fixed point', () => {
    fc.assert(
      fc.property(pod, mode, changes, (generated, m, what) => {
        // An update is compared with the stored Pod it came from; create and ephemeral need none.
        const { next, old, changed }: { next: AnyPod; old?: AnyPod; changed: Record<string, boolean[]> } =
          m === 'update' ? update(generated as unknown as AnyPod, what) : { next: generated as unknown as AnyPod, changed: {} };
        const mutation = mutatePod(next, m, POLICY, old);
        // validate=true makes fast-json-patch reject any operation whose path does not resolve.
        const result = applyPatch(deepClone(next), mutation.patch, true, false).newDocument as AnyPod;
        const before = next;

        let leftForWantOfSecret = 0;
        for (const location of ['containers', 'initContainers', 'ephemeralContainers', 'volumes']) {
          const expected = imagesAt(before, location).map((img, i) => {
            const outcome = rewriteImage(img, POLICY.rewrite);
            if (!LOCATIONS[m].includes(location) || outcome.kind !== 'rewritten') return img;
            if (m !== 'update') return outcome.image;
            // On update: only a changed image, and only on a Pod that already has the pull secret.
            if (!changed[location]![i]) return img;
            if (!referencesSecret(before)) {
              leftForWantOfSecret++;
              return img;
            }
            return outcome.image;
          });
          expect(imagesAt(result, location)).toEqual(expected);
        }
        expect(mutation.warnings.filter((w) => w.includes('left unproxied'))).toHaveLength(leftForWantOfSecret);
        expect(withoutMutableParts(result)).toEqual(withoutMutableParts(before));
        const existing = (before.spec.imagePullSecrets ?? []) as Array<{ name: string }>;
        expect(((result.spec.imagePullSecrets ?? []) as Array<{ name: string }>).slice(0, existing.length)).toEqual(existing);
        const names = ((result.spec.imagePullSecrets ?? []) as Array<{ name: string }>).map((s) => s.name);
        if (m === 'create' && !existing.some((s) => s.name === 'my-app-registry')) {
          expect(names.filter((n) => n === 'my-app-registry').length).toBe(mutation.usesPullSecret ? 1 : 0);
        }
        if (m !== 'create') expect(result.spec.imagePullSecrets).toEqual(before.spec.imagePullSecrets);

        // The annotation maps each rewritten slot to its original (the last one, for duplicate names).
        const recorded = result.metadata?.annotations?.['pullgate.dev/original-images'];
        const expectedOriginals = Object.fromEntries(mutation.rewrites.map((r) => [r.key, r.from]));
        if (mutation.rewrites.length === 0) expect(recorded).toBe(before.metadata?.annotations?.['pullgate.dev/original-images']);
        else if (m !== 'ephemeral') expect(JSON.parse(recorded!)).toMatchObject(expectedOriginals);

        // Fixed point: asked again (a reinvocation sends the same stored Pod), and once stored.
        expect(mutatePod(result, m, POLICY, old).patch).toEqual([]);
        if (m === 'update') expect(mutatePod(result, m, POLICY, result).patch).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('an update that changes nothing, or comes without the stored Pod, yields an empty patch', () => {
    fc.assert(
      fc.property(pod, (generated) => {
        expect(mutatePod(generated, 'update', POLICY, deepClone(generated)).patch).toEqual([]);
        expect(mutatePod(generated, 'update', POLICY).patch).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
