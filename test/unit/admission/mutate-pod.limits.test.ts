// pullgate never pushes a Pod past a size limit of the API server: the annotations' total (256 KiB)
// and the largest object etcd stores (1.5 MiB). Each case applies the patch and compares the result.
import fjp from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { STORED_OBJECT_BUDGET, storedSizeEstimate } from '../../../src/admission/api-server-limits.ts';
import { mutatePod } from '../../../src/admission/mutate-pod.ts';
import type { MutationMode } from '../../../src/admission/pod-images.ts';
import { POLICY } from './policy-fixture.ts';

const { applyPatch, deepClone } = fjp;
type Pod = { metadata: { name: string; annotations?: Record<string, string> }; spec: { imagePullSecrets?: { name: string }[]; containers: { name: string; image: string; args?: string[] }[] } };

const ANNOTATION = 'pullgate.dev/original-images';
const LIMIT = 256 * 1024;
const PROXIED = (image: string) => `proxy.example.com/proxy/my-app/${image}`;

function apply(pod: Pod, mode: MutationMode = 'create', oldPod?: Pod) {
  const mutation = mutatePod(pod, mode, POLICY, oldPod);
  const result = applyPatch(deepClone(pod), mutation.patch, true, false).newDocument as Pod;
  return { mutation, result };
}

/** The API server's count (ValidateAnnotationsSize), written out here on its own. */
function annotationBytes(annotations: Record<string, string> = {}): number {
  return Object.entries(annotations).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

describe('the original-images annotation near the 256 KiB annotations limit', () => {
  const image = 'quay.io/acme/app:1';
  const record = JSON.stringify({ 'containers/app': image });
  const ownBytes = Buffer.byteLength(ANNOTATION) + Buffer.byteLength(record);
  /** A Pod whose annotations, with pullgate's, total `total` bytes. */
  const podWithTotal = (total: number, fill = 'x'): Pod => {
    const padding = total - ownBytes - 'pad'.length;
    return {
      metadata: { name: 'p', annotations: { pad: fill.repeat(padding / Buffer.byteLength(fill)) } },
      spec: { containers: [{ name: 'app', image }] },
    };
  };
  const rewritten = (pod: Pod, annotations: Record<string, string> | undefined): Pod => ({
    metadata: { ...pod.metadata, ...(annotations ? { annotations } : {}) },
    spec: { ...pod.spec, containers: [{ name: 'app', image: PROXIED(image) }], imagePullSecrets: [{ name: 'my-app-registry' }] },
  });

  it.each([
    ['one byte under', LIMIT - 1],
    ['exactly at', LIMIT],
  ])('adds it when the total ends %s the limit', (_, total) => {
    const pod = podWithTotal(total);
    const { mutation, result } = apply(pod);
    expect(result).toEqual(rewritten(pod, { ...pod.metadata.annotations, [ANNOTATION]: record }));
    expect(annotationBytes(result.metadata.annotations)).toBe(total);
    expect(mutation.warnings).toEqual([]);
  });

  it('rewrites without it, and says so, when the total would pass the limit by one byte', () => {
    const pod = podWithTotal(LIMIT + 1);
    const { mutation, result } = apply(pod);
    expect(result).toEqual(rewritten(pod, pod.metadata.annotations));
    expect(annotationBytes(result.metadata.annotations)).toBe(LIMIT + 1 - ownBytes);
    expect(mutation.rewrites).toHaveLength(1);
    expect(mutation.usesPullSecret).toBe(true);
    expect(mutation.warnings).toEqual([`pullgate: annotation "${ANNOTATION}" left out: it would take the Pod's annotations to ${LIMIT + 1} bytes, past the API server's limit of ${LIMIT}`]);
  });

  it('counts bytes, not characters', () => {
    // Two bytes a character: as many characters as fit in bytes would be well under the limit.
    const pod = podWithTotal(LIMIT + 2, 'é');
    expect(apply(pod).result.metadata.annotations?.[ANNOTATION]).toBeUndefined();
    expect(apply(podWithTotal(LIMIT, 'é')).result.metadata.annotations?.[ANNOTATION]).toBe(record);
  });

  it('keeps the previous value on an UPDATE that would take the annotations past the limit', () => {
    const previous = JSON.stringify({ 'containers/app': 'quay.io/acme/app:0' });
    const stored: Pod = {
      metadata: { name: 'p', annotations: { pad: '', [ANNOTATION]: previous } },
      spec: { imagePullSecrets: [{ name: 'my-app-registry' }], containers: [{ name: 'app', image: PROXIED('quay.io/acme/app:0') }] },
    };
    const next = (image: string, total: number): Pod => {
      const record = JSON.stringify({ 'containers/app': image });
      const pad = 'x'.repeat(total - Buffer.byteLength(ANNOTATION) - record.length - 'pad'.length);
      return { ...stored, metadata: { ...stored.metadata, annotations: { pad, [ANNOTATION]: previous } }, spec: { ...stored.spec, containers: [{ name: 'app', image }] } };
    };
    // A longer image whose record brings the total to exactly the limit: updated.
    const atLimit = apply(next('quay.io/acme/app:10', LIMIT), 'update', stored);
    expect(atLimit.result.metadata.annotations?.[ANNOTATION]).toBe(JSON.stringify({ 'containers/app': 'quay.io/acme/app:10' }));
    expect(annotationBytes(atLimit.result.metadata.annotations)).toBe(LIMIT);
    // One byte more: the image is still proxied, the annotation keeps its previous value.
    const pod = next('quay.io/acme/app:10', LIMIT + 1);
    const { mutation, result } = apply(pod, 'update', stored);
    expect(result).toEqual({ ...pod, spec: { ...pod.spec, containers: [{ name: 'app', image: PROXIED('quay.io/acme/app:10') }] } });
    expect(mutation.warnings).toEqual([expect.stringContaining(`annotation "${ANNOTATION}" not updated`)]);
  });

  it('is a fixed point when the annotation was left out', () => {
    const { result } = apply(podWithTotal(LIMIT + 1));
    expect(mutatePod(result, 'create', POLICY)).toEqual({ patch: [], warnings: [], rewrites: [], usesPullSecret: true });
  });
});

describe('a Pod with 10,000 containers', () => {
  const pod: Pod = {
    metadata: { name: 'wide' },
    spec: { containers: Array.from({ length: 10_000 }, (_, i) => ({ name: `c${i}`, image: 'quay.io/acme/app:1.0' })) },
  };

  it('is rewritten in full, without the annotation its 10,000 originals would take past 256 KiB', () => {
    const { mutation, result } = apply(pod);
    expect(result).toEqual({
      metadata: { name: 'wide' },
      spec: { containers: pod.spec.containers.map((c) => ({ ...c, image: PROXIED('quay.io/acme/app:1.0') })), imagePullSecrets: [{ name: 'my-app-registry' }] },
    });
    expect(mutation.rewrites).toHaveLength(10_000);
    expect(mutation.warnings).toHaveLength(1);
    expect(mutation.warnings[0]).toMatch(/^pullgate: annotation "pullgate.dev\/original-images" left out: it would take the Pod's annotations to \d{6} bytes/);
    expect(storedSizeEstimate(result)).toBeLessThanOrEqual(STORED_OBJECT_BUDGET);
    // And rewriting it again changes nothing.
    expect(mutatePod(result, 'create', POLICY).patch).toEqual([]);
  });
});

describe('the largest object etcd stores (1.5 MiB)', () => {
  /** One private image and an argument of `n` bytes, the bulk of the Pod. */
  const padded = (n: number, image = 'quay.io/acme/app:1'): Pod => ({
    metadata: { name: 'big' },
    spec: { containers: [{ name: 'app', image, args: ['x'.repeat(n)] }] },
  });
  const outcome = (n: number) => apply(padded(n));
  /** The Pod with its padding replaced by its length, so a failed comparison prints a readable diff. */
  const shrunk = (pod: Pod) => ({ ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((c) => (c.args ? { ...c, args: c.args.map((a) => `<${a.length} bytes>`) } : c)) } });

  /** The largest padding for which `holds` (true up to some size, false past it), by bisection. */
  const lastWhere = (holds: (n: number) => boolean): number => {
    let low = 1_000_000;
    let high = 1_600_000;
    if (!holds(low) || holds(high)) throw new Error('the budget is not between the bisection bounds');
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (holds(mid)) low = mid;
      else high = mid;
    }
    return low;
  };
  // Growing, the Pod first loses the annotation (past `annotated`), then its proxied image (past `proxied`).
  const annotated = lastWhere((n) => outcome(n).result.metadata.annotations !== undefined);
  const proxied = lastWhere((n) => outcome(n).mutation.rewrites.length === 1);
  const record = { [ANNOTATION]: JSON.stringify({ 'containers/app': 'quay.io/acme/app:1' }) };
  const rewritten = (pod: Pod, annotations?: Record<string, string>): Pod => ({
    metadata: { name: 'big', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'app', image: PROXIED('quay.io/acme/app:1'), args: pod.spec.containers[0]!.args! }], imagePullSecrets: [{ name: 'my-app-registry' }] },
  });
  const PAST = String.raw`could take the Pod past the largest object the API server stores \(1\.5 MiB in etcd; \d+ bytes estimated\)`;

  it('changes less and less as the Pod grows: first the annotation goes, then the image stays', () => {
    expect(annotated).toBeLessThan(proxied);
    // The annotation holds the original image and its container: that is about the room it takes.
    expect(proxied - annotated).toBeGreaterThan(record[ANNOTATION]!.length);
    expect(proxied - annotated).toBeLessThan(2 * (ANNOTATION.length + record[ANNOTATION]!.length));
  });

  it.each([
    ['one byte under', () => annotated - 1],
    ['exactly at', () => annotated],
  ])('rewrites and records a Pod whose result ends %s the budget', (_, size) => {
    const n = size();
    const { mutation, result } = outcome(n);
    expect(shrunk(result)).toEqual(shrunk(rewritten(padded(n), record)));
    expect(mutation.warnings).toEqual([]);
    // The growth is counted from above: the result is within the budget, by a few bytes at most.
    expect(storedSizeEstimate(result)).toBeLessThanOrEqual(STORED_OBJECT_BUDGET);
    if (n === annotated) expect(STORED_OBJECT_BUDGET - storedSizeEstimate(result)).toBeLessThan(16);
  });

  it.each([
    ['one byte over the budget with the annotation', () => annotated + 1],
    ['exactly at the budget without it', () => proxied],
  ])('rewrites without the annotation a Pod %s, and says so', (_, size) => {
    const n = size();
    const { mutation, result } = outcome(n);
    expect(shrunk(result)).toEqual(shrunk(rewritten(padded(n))));
    expect(mutation.rewrites).toHaveLength(1);
    expect(mutation.warnings).toEqual([expect.stringMatching(new RegExp(`^pullgate: annotation "pullgate.dev/original-images" left out: it ${PAST}$`))]);
    expect(storedSizeEstimate(result)).toBeLessThanOrEqual(STORED_OBJECT_BUDGET);
    if (n === proxied) expect(STORED_OBJECT_BUDGET - storedSizeEstimate(result)).toBeLessThan(16);
  });

  it('leaves the images of a Pod one byte over as they are, and says so', () => {
    const pod = padded(proxied + 1);
    const { mutation, result } = apply(pod);
    expect(shrunk(result)).toEqual(shrunk(pod));
    expect(mutation).toMatchObject({ patch: [], rewrites: [], usesPullSecret: false });
    expect(mutation.warnings).toEqual([expect.stringMatching(new RegExp(`^pullgate: proxying 1 image ${PAST}; left unchanged$`))]);
  });

  it('names only what it left out when the Pod is past the budget already', () => {
    const pod = padded(STORED_OBJECT_BUDGET);
    const { mutation, result } = apply(pod);
    expect(shrunk(result)).toEqual(shrunk(pod));
    expect(mutation.warnings).toEqual([expect.stringMatching(new RegExp(`^pullgate: proxying 1 image ${PAST}; left unchanged$`))]);
  });

  it('still attaches the pull secret when that alone fits', () => {
    // Two images: one already proxied (it needs the secret), one private (left as it is).
    const withSide = (n: number): Pod => ({ ...padded(n), spec: { containers: [...padded(n).spec.containers, { name: 'side', image: PROXIED('quay.io/acme/side:1') }] } });
    const pod = withSide(lastWhere((n) => apply(withSide(n)).mutation.rewrites.length === 1) + 1);
    const { mutation, result } = apply(pod);
    expect(shrunk(result)).toEqual(shrunk({ ...pod, spec: { ...pod.spec, imagePullSecrets: [{ name: 'my-app-registry' }] } }));
    expect(mutation.usesPullSecret).toBe(true);
    expect(mutation.warnings).toEqual([expect.stringMatching(/^pullgate: proxying 1 image could take the Pod past/)]);
  });

  it('changes nothing at all when even the pull secret reference would not fit', () => {
    const pod = padded(STORED_OBJECT_BUDGET, PROXIED('quay.io/acme/app:1'));
    const { mutation, result } = apply(pod);
    expect(shrunk(result)).toEqual(shrunk(pod));
    expect(mutation).toMatchObject({ patch: [], rewrites: [], usesPullSecret: false });
    expect(mutation.warnings).toEqual([expect.stringMatching(/^pullgate: adding pull secret "my-app-registry" could take the Pod past/)]);
  });

  it('checks UPDATEs the same way', () => {
    // The stored Pod already references the secret, so the update itself adds a little less.
    const stored: Pod = { ...padded(proxied + 16, 'nginx'), spec: { ...padded(proxied + 16, 'nginx').spec, imagePullSecrets: [{ name: 'my-app-registry' }] } };
    const next: Pod = { ...stored, spec: { ...stored.spec, containers: [{ ...stored.spec.containers[0]!, image: 'quay.io/acme/app:1' }] } };
    const { mutation, result } = apply(next, 'update', stored);
    expect(shrunk(result)).toEqual(shrunk(next));
    expect(mutation.warnings).toEqual([expect.stringMatching(/^pullgate: proxying 1 image could take the Pod past/)]);
  });

  it('does not look at the size of a Pod it does not change', () => {
    const pod = padded(2 * STORED_OBJECT_BUDGET, 'nginx');
    expect(mutatePod(pod, 'create', POLICY)).toEqual({ patch: [], warnings: [], rewrites: [], usesPullSecret: false });
  });
});
