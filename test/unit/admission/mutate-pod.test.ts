import fjp from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../../src/admission/mutate-pod.ts';
import type { MutationMode } from '../../../src/admission/pod-images.ts';
import { POLICY } from './policy-fixture.ts';

const { applyPatch, deepClone } = fjp;

function apply(pod: object, mode: MutationMode = 'create', oldPod?: object) {
  const mutation = mutatePod(pod, mode, POLICY, oldPod);
  const result = applyPatch(deepClone(pod), mutation.patch, true, false).newDocument;
  return { mutation, result };
}

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'my-app', labels: { app: 'web' } },
  spec: {
    initContainers: [{ name: 'init', image: 'quay.io/acme/init:1' }],
    containers: [
      { name: 'web', image: 'acme/app:1.0' },
      { name: 'proxy', image: 'nginx:1.27' },
    ],
    ephemeralContainers: [{ name: 'debug', image: 'quay.io/acme/debug@sha256:' + 'a'.repeat(64) }],
    volumes: [
      { name: 'models', image: { reference: '123456789012.dkr.ecr.us-east-1.amazonaws.com/models:v2' } },
      { name: 'cache', emptyDir: {} },
    ],
  },
};

describe('mutatePod on CREATE', () => {
  it('rewrites private images in all four locations and leaves public ones alone', () => {
    const { result } = apply(POD);
    expect(result.spec.initContainers[0].image).toBe('proxy.example.com/proxy/my-app/quay.io/acme/init:1');
    expect(result.spec.containers[0].image).toBe('proxy.example.com/proxy/my-app/docker.io/acme/app:1.0');
    expect(result.spec.containers[1].image).toBe('nginx:1.27');
    expect(result.spec.ephemeralContainers[0].image).toBe(`proxy.example.com/proxy/my-app/quay.io/acme/debug@sha256:${'a'.repeat(64)}`);
    expect(result.spec.volumes[0].image.reference).toBe('proxy.example.com/proxy/my-app/123456789012.dkr.ecr.us-east-1.amazonaws.com/models:v2');
    expect(result.spec.volumes[1]).toEqual({ name: 'cache', emptyDir: {} });
  });

  it('appends the pull secret and records the original images', () => {
    const { result } = apply(POD);
    expect(result.spec.imagePullSecrets).toEqual([{ name: 'my-app-registry' }]);
    expect(JSON.parse(result.metadata.annotations['pullgate.dev/original-images'])).toEqual({
      'initContainers/init': 'quay.io/acme/init:1',
      'containers/web': 'acme/app:1.0',
      'ephemeralContainers/debug': `quay.io/acme/debug@sha256:${'a'.repeat(64)}`,
      'volumes/models': '123456789012.dkr.ecr.us-east-1.amazonaws.com/models:v2',
    });
  });

  it('keeps existing pull secrets and existing annotations, escaping the annotation key in the pointer', () => {
    const pod = { ...POD, metadata: { ...POD.metadata, annotations: { team: 'a' } }, spec: { ...POD.spec, imagePullSecrets: [{ name: 'other' }] } };
    const { mutation, result } = apply(pod);
    expect(result.spec.imagePullSecrets).toEqual([{ name: 'other' }, { name: 'my-app-registry' }]);
    expect(result.metadata.annotations.team).toBe('a');
    expect(mutation.patch).toContainEqual(expect.objectContaining({ op: 'add', path: '/metadata/annotations/pullgate.dev~1original-images' }));
    expect(mutation.patch).toContainEqual({ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'my-app-registry' } });
  });

  it('never lists the pull secret twice', () => {
    const pod = { ...POD, spec: { ...POD.spec, imagePullSecrets: [{ name: 'my-app-registry' }] } };
    const { result } = apply(pod);
    expect(result.spec.imagePullSecrets).toEqual([{ name: 'my-app-registry' }]);
  });

  it('is a fixed point', () => {
    const { result } = apply(POD);
    expect(mutatePod(result, 'create', POLICY).patch).toEqual([]);
    // Updated with its proxied images, whether the stored Pod has them already or not.
    expect(mutatePod(result, 'update', POLICY, result).patch).toEqual([]);
    expect(mutatePod(result, 'update', POLICY, POD).patch).toEqual([]);
  });

  it('attaches the secret to a Pod whose only private image is already proxied or on the vendor registry', () => {
    for (const image of ['proxy.example.com/proxy/my-app/quay.io/acme/x:1', 'registry.example.com/my-app/x:1', 'REGISTRY.example.com/my-app/x:1']) {
      const { mutation, result } = apply({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image }] } });
      expect(result.spec.imagePullSecrets, image).toEqual([{ name: 'my-app-registry' }]);
      expect(result.spec.containers[0].image).toBe(image);
      expect(result.metadata.annotations, 'nothing rewritten, nothing recorded').toBeUndefined();
      expect(mutation.usesPullSecret).toBe(true);
    }
  });

  it('leaves a Pod of public images completely alone', () => {
    const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx' }, { name: 'd', image: 'quay.io/acmecorp/web' }] } };
    const mutation = mutatePod(pod, 'create', POLICY);
    expect(mutation).toMatchObject({ patch: [], warnings: [], usesPullSecret: false });
  });

  it('does not match the proxy domain by prefix', () => {
    const { result } = apply({ metadata: {}, spec: { containers: [{ name: 'c', image: 'proxy.example.com.evil.io/x:1' }] } });
    expect(result.spec.imagePullSecrets).toBeUndefined();
  });

  it('warns about invalid references, naming them, and leaves them unchanged', () => {
    const pod = { metadata: {}, spec: { containers: [{ name: 'bad', image: 'Quay.io/ACME/App' }, { name: 'good', image: 'quay.io/acme/app' }] } };
    const { mutation, result } = apply(pod);
    expect(result.spec.containers[0].image).toBe('Quay.io/ACME/App');
    expect(result.spec.containers[1].image).toBe('proxy.example.com/proxy/my-app/quay.io/acme/app');
    expect(mutation.warnings).toHaveLength(1);
    expect(mutation.warnings[0]).toContain('containers/bad');
    expect(mutation.warnings[0]).toContain('Quay.io/ACME/App');
  });

  it('warns and leaves the image when the proxied name would be too long', () => {
    const image = `quay.io/acme/${'a'.repeat(230)}:1`;
    const { mutation, result } = apply({ metadata: {}, spec: { containers: [{ name: 'long', image }] } });
    expect(result.spec.containers[0].image).toBe(image);
    expect(mutation.warnings.join()).toContain('255');
  });

  it('admits what it cannot read unchanged, with a warning', () => {
    for (const pod of [null, 'x', {}, { spec: 'x' }, { spec: [] }]) {
      const mutation = mutatePod(pod, 'create', POLICY);
      expect(mutation.patch).toEqual([]);
      expect(mutation.warnings).toHaveLength(1);
    }
    const odd = mutatePod({ spec: { containers: 'x', initContainers: [null, 3, { name: 'n' }] } }, 'create', POLICY);
    expect(odd.patch).toEqual([]);
  });

  it('creates metadata.annotations when the Pod has none and metadata when it has no metadata', () => {
    expect(mutatePod({ metadata: {}, spec: { containers: [{ name: 'c', image: 'quay.io/acme/a' }] } }, 'create', POLICY).patch).toContainEqual(
      expect.objectContaining({ op: 'add', path: '/metadata/annotations' }),
    );
    const { result } = apply({ spec: { containers: [{ name: 'c', image: 'quay.io/acme/a' }] } });
    expect(JSON.parse(result.metadata.annotations['pullgate.dev/original-images'])).toEqual({ 'containers/c': 'quay.io/acme/a' });
  });
});

describe('mutatePod on UPDATE', () => {
  // Stored before pullgate served its namespace: private images, no pull secret.
  const LEGACY = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'legacy', namespace: 'my-app', labels: { app: 'legacy' } },
    spec: {
      initContainers: [{ name: 'init', image: 'quay.io/acme/init:1' }],
      containers: [{ name: 'web', image: 'quay.io/acme/web:1' }, { name: 'side', image: 'nginx:1.27' }],
    },
  };
  const withImage = (pod: typeof LEGACY, location: 'containers' | 'initContainers', index: number, image: string) => {
    const copy = deepClone(pod) as typeof LEGACY;
    copy.spec[location][index]!.image = image;
    return copy;
  };
  const withSecret = (pod: typeof LEGACY) => ({ ...pod, spec: { ...pod.spec, imagePullSecrets: [{ name: 'my-app-registry' }] } });
  const relabelled = (pod: typeof LEGACY) => ({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, tier: 'front' } } });

  it('changes nothing when only labels change, even on a Pod with private images and no pull secret', () => {
    const mutation = mutatePod(relabelled(LEGACY), 'update', POLICY, LEGACY);
    expect(mutation).toEqual({ patch: [], warnings: [], rewrites: [], usesPullSecret: false });
    // Nor when the Pod references the pull secret: its untouched private images stay as they are.
    expect(mutatePod(relabelled(withSecret(LEGACY)), 'update', POLICY, withSecret(LEGACY)).patch).toEqual([]);
  });

  it('rewrites an image the update changes when the Pod references the pull secret, and records its original', () => {
    const old = withSecret(LEGACY);
    const next = withImage(old, 'containers', 0, 'quay.io/acme/web:2');
    const { mutation, result } = apply(next, 'update', old);
    expect(result).toEqual({
      ...next,
      metadata: { ...next.metadata, annotations: { 'pullgate.dev/original-images': JSON.stringify({ 'containers/web': 'quay.io/acme/web:2' }) } },
      spec: { ...next.spec, containers: [{ name: 'web', image: 'proxy.example.com/proxy/my-app/quay.io/acme/web:2' }, { name: 'side', image: 'nginx:1.27' }] },
    });
    expect(mutation.warnings).toEqual([]);
    expect(mutation.usesPullSecret).toBe(true);
    // The untouched init container keeps its private image.
    expect(result.spec.initContainers[0].image).toBe('quay.io/acme/init:1');
  });

  it('rewrites a changed init-container image the same way', () => {
    const old = withSecret(LEGACY);
    const { result } = apply(withImage(old, 'initContainers', 0, 'quay.io/acme/init:2'), 'update', old);
    expect(result.spec.initContainers[0].image).toBe('proxy.example.com/proxy/my-app/quay.io/acme/init:2');
    expect(result.spec.containers[0].image).toBe('quay.io/acme/web:1');
    expect(JSON.parse(result.metadata.annotations['pullgate.dev/original-images'])).toEqual({ 'initContainers/init': 'quay.io/acme/init:2' });
  });

  it('leaves a changed image alone, saying why, when the Pod has no pull secret', () => {
    const next = withImage(LEGACY, 'containers', 0, 'quay.io/acme/web:2');
    const mutation = mutatePod(next, 'update', POLICY, LEGACY);
    expect(mutation.patch).toEqual([]);
    expect(mutation.usesPullSecret).toBe(false);
    expect(mutation.warnings).toHaveLength(1);
    expect(mutation.warnings[0]).toContain('containers/web');
    expect(mutation.warnings[0]).toContain('"quay.io/acme/web:2"');
    expect(mutation.warnings[0]).toContain('no pull secret "my-app-registry"');
    expect(mutation.warnings[0]!.length).toBeLessThanOrEqual(256);
  });

  it('changes nothing when a rewritten Pod is updated with the same proxied image', () => {
    const { result: stored } = apply(withSecret(LEGACY));
    expect(stored.spec.containers[0].image).toBe('proxy.example.com/proxy/my-app/quay.io/acme/web:1');
    expect(mutatePod(relabelled(stored), 'update', POLICY, stored)).toMatchObject({ patch: [], warnings: [], rewrites: [] });
    // Set back to the image as written (a replace with the original manifest): proxied again, which
    // leaves the container's image as stored.
    const { result } = apply(withImage(stored, 'containers', 0, 'quay.io/acme/web:1'), 'update', stored);
    expect(result.spec).toEqual(stored.spec);
    expect(result.metadata.annotations).toEqual(stored.metadata.annotations);
  });

  it('counts a container with no counterpart in the stored Pod as changed', () => {
    const old = withSecret(LEGACY);
    const next = { ...old, spec: { ...old.spec, containers: [...old.spec.containers, { name: 'extra', image: 'quay.io/acme/extra:1' }] } };
    const { result } = apply(next, 'update', old);
    expect(result.spec.containers.map((c: { image: string }) => c.image)).toEqual(['quay.io/acme/web:1', 'nginx:1.27', 'proxy.example.com/proxy/my-app/quay.io/acme/extra:1']);
    // Containers are matched by location and name, not by position.
    const reordered = { ...old, spec: { ...old.spec, containers: [...old.spec.containers].reverse() } };
    expect(mutatePod(reordered, 'update', POLICY, old).patch).toEqual([]);
    // A name in another location is another container.
    const moved = { ...old, spec: { ...old.spec, initContainers: [{ name: 'web', image: 'quay.io/acme/init:1' }] } };
    expect(apply(moved, 'update', old).result.spec.initContainers[0].image).toBe('proxy.example.com/proxy/my-app/quay.io/acme/init:1');
  });

  it('pairs repeated names in order, so an unchanged Pod stays unchanged', () => {
    // The API server rejects such a Pod; the pairing must still never invent a change.
    const old = { metadata: {}, spec: { imagePullSecrets: [{ name: 'my-app-registry' }], containers: [{ name: 'a', image: 'quay.io/acme/one:1' }, { name: 'a', image: 'quay.io/acme/two:1' }] } };
    expect(mutatePod(deepClone(old), 'update', POLICY, old).patch).toEqual([]);
    const next = deepClone(old);
    next.spec.containers[1]!.image = 'quay.io/acme/two:2';
    expect(mutatePod(next, 'update', POLICY, old).patch[0]).toEqual({ op: 'replace', path: '/spec/containers/1/image', value: 'proxy.example.com/proxy/my-app/quay.io/acme/two:2' });
  });

  it('treats every image as unchanged without a stored Pod it can read', () => {
    const next = withImage(withSecret(LEGACY), 'containers', 0, 'quay.io/acme/web:2');
    for (const old of [undefined, null, 'x', {}, { spec: 'x' }]) {
      expect(mutatePod(next, 'update', POLICY, old), JSON.stringify(old)).toEqual({ patch: [], warnings: [], rewrites: [], usesPullSecret: false });
    }
  });

  it('never touches pull secrets, volumes or ephemeral containers', () => {
    const old = { ...POD, spec: { ...POD.spec, containers: [{ name: 'web', image: 'nginx' }, POD.spec.containers[1]!], ephemeralContainers: [], volumes: [] } };
    const { mutation, result } = apply(POD, 'update', old);
    expect(result.spec.ephemeralContainers).toEqual(POD.spec.ephemeralContainers);
    expect(result.spec.volumes).toEqual(POD.spec.volumes);
    expect(result.spec.imagePullSecrets).toBeUndefined();
    expect(mutation.patch.every((op) => !op.path.startsWith('/spec/imagePullSecrets') && !op.path.startsWith('/spec/volumes') && !op.path.startsWith('/spec/ephemeralContainers'))).toBe(true);
  });

  it('warns that proxied images may fail to pull when the Pod has them but no pull secret', () => {
    // Changed to an image already on the proxy: nothing to rewrite, but nothing to pull it with.
    const proxiedNow = withImage(LEGACY, 'containers', 0, 'proxy.example.com/proxy/my-app/quay.io/acme/web:2');
    const changed = mutatePod(proxiedNow, 'update', POLICY, LEGACY);
    expect(changed.patch).toEqual([]);
    expect(changed.warnings).toEqual([expect.stringContaining('may fail to pull')]);
    // Untouched but on the proxy or the vendor registry: the Pod still ends up with it.
    for (const image of ['proxy.example.com/proxy/my-app/quay.io/acme/web:1', 'registry.example.com/my-app/web:1']) {
      const stored = withImage(LEGACY, 'containers', 0, image);
      const relabel = mutatePod(relabelled(stored), 'update', POLICY, stored);
      expect(relabel.patch, image).toEqual([]);
      expect(relabel.warnings, image).toEqual([expect.stringContaining('may fail to pull')]);
    }
  });

  it('merges new originals into the existing annotation, newest winning for the same container', () => {
    const pod = {
      metadata: { annotations: { 'pullgate.dev/original-images': JSON.stringify({ 'containers/web': 'quay.io/acme/web:1', 'containers/side': 'quay.io/acme/side:1' }) } },
      spec: { imagePullSecrets: [{ name: 'my-app-registry' }], containers: [{ name: 'web', image: 'quay.io/acme/web:2' }, { name: 'side', image: 'proxy.example.com/proxy/my-app/quay.io/acme/side:1' }] },
    };
    const old = { ...pod, spec: { ...pod.spec, containers: [{ name: 'web', image: 'proxy.example.com/proxy/my-app/quay.io/acme/web:1' }, pod.spec.containers[1]!] } };
    const { result } = apply(pod, 'update', old);
    expect(JSON.parse(result.metadata.annotations['pullgate.dev/original-images'])).toEqual({ 'containers/web': 'quay.io/acme/web:2', 'containers/side': 'quay.io/acme/side:1' });
  });
});

describe('mutatePod on pods/ephemeralcontainers', () => {
  it('changes ephemeral container images and nothing else', () => {
    const { mutation, result } = apply(POD, 'ephemeral');
    expect(mutation.patch).toEqual([{ op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `proxy.example.com/proxy/my-app/quay.io/acme/debug@sha256:${'a'.repeat(64)}` }]);
    expect(result.spec.containers).toEqual(POD.spec.containers);
    expect(mutation.warnings.join()).toContain('may fail to pull');
  });
});

describe('mutatePod on pods/ephemeralcontainers with the stored Pod', () => {
  it('rewrites only the ephemeral containers this request adds: existing ones may not change', () => {
    const old = { metadata: {}, spec: { containers: [{ name: 'app', image: 'nginx' }], ephemeralContainers: [{ name: 'first', image: 'quay.io/acme/dbg:1' }] } };
    const next = { ...old, spec: { ...old.spec, ephemeralContainers: [...old.spec.ephemeralContainers, { name: 'second', image: 'quay.io/acme/dbg:2' }] } };
    const mutation = mutatePod(next, 'ephemeral', POLICY, old);
    expect(mutation.patch).toEqual([{ op: 'replace', path: '/spec/ephemeralContainers/1/image', value: 'proxy.example.com/proxy/my-app/quay.io/acme/dbg:2' }]);
    // Without the stored Pod every ephemeral container is treated as new.
    expect(mutatePod(next, 'ephemeral', POLICY).patch).toHaveLength(2);
  });
});

describe('warnings', () => {
  it('never echo a password written into an image, and stay short', () => {
    const pod = { metadata: {}, spec: { containers: [{ name: 'a', image: 'https://user:s3cret-token@quay.io/acme/x:1' }, { name: 'b', image: `UPPER/${'x'.repeat(400)}` }] } };
    const { warnings } = mutatePod(pod, 'create', POLICY);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).not.toContain('s3cret-token');
    expect(warnings[0]).toContain('https://***@quay.io/acme/x:1');
    for (const w of warnings) expect(w.length).toBeLessThanOrEqual(256);
  });

  it('never echo a bare token written before the host either', () => {
    const pod = { metadata: {}, spec: { containers: [{ name: 'a', image: 'ghp_s3cretToken@quay.io/acme/x:1' }] } };
    const { warnings } = mutatePod(pod, 'create', POLICY);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain('s3cretToken');
    expect(warnings[0]).toContain('"***@quay.io/acme/x:1"');
  });

  it('name a private image whose digest go-digest refuses, and leave it unchanged', () => {
    for (const [image, reason] of [
      [`acme/app@sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
      [`acme/app:1@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
      [`quay.io/acme/app@sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
    ] as const) {
      const { mutation, result } = apply({ metadata: {}, spec: { containers: [{ name: 'c', image }] } });
      expect(result.spec.containers[0].image, image).toBe(image);
      expect(mutation.patch, image).toEqual([]);
      expect(mutation.warnings, image).toEqual([`pullgate: containers/c: image "${image.length > 120 ? `${image.slice(0, 120)}…` : image}" is not a valid reference (${reason}); left unchanged`]);
    }
  });

  it('keep digests and tags intact when there is no password', () => {
    const pod = { metadata: {}, spec: { containers: [{ name: 'a', image: 'Bad/Name:1@sha256:abc' }] } };
    expect(mutatePod(pod, 'create', POLICY).warnings[0]).toContain('"Bad/Name:1@sha256:abc"');
  });
});

describe('warnings about long invalid references', () => {
  it('stay within the API server limit even when the parser quotes the reference', () => {
    const image = 'a'.repeat(64);
    const pod = { metadata: {}, spec: { containers: [{ name: 'c'.repeat(60), image: `${image}` }, { name: 'd', image: `x/${'Y'.repeat(300)}` }] } };
    const { warnings } = mutatePod(pod, 'create', POLICY);
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w.length).toBeLessThanOrEqual(256);
  });
});
