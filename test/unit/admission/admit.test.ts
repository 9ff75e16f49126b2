import { describe, expect, it } from 'vitest';
import { admit, modeOf, type AdmissionContext } from '../../../src/admission/admit.ts';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import { POLICY } from './policy-fixture.ts';

function context(overrides: Partial<AdmissionContext> = {}) {
  const ensured: string[] = [];
  const ctx: AdmissionContext = {
    policy: () => POLICY,
    standingWarnings: () => [],
    serves: (ns) => ns !== 'kube-system' && ns !== 'pullgate',
    ensurePullSecret: async (ns) => void ensured.push(ns),
    ...overrides,
  };
  return { ctx, ensured };
}

const pod = (labels: Record<string, string> = {}) => ({ metadata: { name: 'p', labels }, spec: { containers: [{ name: 'c', image: 'quay.io/acme/web:1' }] } });
const request = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'my-app',
  operation: 'CREATE',
  object: pod(),
  ...over,
});

describe('modeOf', () => {
  it('maps Pod create, update and the ephemeralcontainers subresource, and nothing else', () => {
    expect(modeOf(request())).toBe('create');
    expect(modeOf(request({ operation: 'UPDATE' }))).toBe('update');
    expect(modeOf(request({ operation: 'UPDATE', subResource: 'ephemeralcontainers' }))).toBe('ephemeral');
    expect(modeOf(request({ operation: 'DELETE' }))).toBeUndefined();
    expect(modeOf(request({ operation: 'UPDATE', subResource: 'status' }))).toBeUndefined();
    expect(modeOf(request({ resource: { group: '', version: 'v1', resource: 'configmaps' } }))).toBeUndefined();
    expect(modeOf(request({ resource: { group: 'apps', version: 'v1', resource: 'pods' } }))).toBeUndefined();
  });
});

describe('admit', () => {
  it('patches and ensures the pull secret before answering', async () => {
    const { ctx, ensured } = context();
    const result = await admit(request(), ctx);
    expect(result.decision).toBe('mutated');
    expect(result.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    expect(ensured).toEqual(['my-app']);
  });

  it('has no side effects on dry-run', async () => {
    const { ctx, ensured } = context();
    const result = await admit(request({ dryRun: true }), ctx);
    expect(result.response.patchType).toBe('JSONPatch');
    expect(ensured).toEqual([]);
  });

  it('skips namespaces out of scope and opted-out Pods', async () => {
    const { ctx, ensured } = context();
    expect((await admit(request({ namespace: 'kube-system' }), ctx)).decision).toBe('out-of-scope');
    expect((await admit(request({ object: pod({ 'pullgate.dev/inject': 'disabled' }) }), ctx)).decision).toBe('opted-out');
    expect((await admit(request({ object: pod({ 'pullgate.dev/inject': 'enabled' }) }), ctx)).decision).toBe('mutated');
    expect(ensured).toEqual(['my-app']);
  });

  it('admits with a warning when the pull secret cannot be ensured', async () => {
    const { ctx } = context({ ensurePullSecret: async () => { throw new Error('forbidden'); } });
    const result = await admit(request(), ctx);
    expect(result.response.allowed).toBe(true);
    expect(result.response.patchType).toBe('JSONPatch');
    expect(result.response.warnings?.join()).toMatch(/could not ensure pull secret "my-app-registry".*forbidden/);
  });

  it('carries standing warnings on every response, even when nothing changes', async () => {
    const { ctx } = context({ standingWarnings: () => ['license expired'] });
    expect((await admit(request({ operation: 'DELETE' }), ctx)).response.warnings).toEqual(['license expired']);
    expect((await admit(request(), ctx)).response.warnings).toEqual(['license expired']);
  });
});

describe('admit on Pod UPDATE', () => {
  const withSecret = (p: ReturnType<typeof pod>) => ({ ...p, spec: { ...p.spec, imagePullSecrets: [{ name: 'my-app-registry' }] } });
  const withImage = <T extends ReturnType<typeof pod>>(p: T, image: string): T => ({ ...p, spec: { ...p.spec, containers: [{ name: 'c', image }] } });

  it('answers a relabel of a Pod stored before pullgate with no patch, no warning and no secret', async () => {
    const { ctx, ensured } = context();
    const result = await admit(request({ operation: 'UPDATE', object: pod({ tier: 'front' }), oldObject: pod() }), ctx);
    expect(result.decision).toBe('unchanged');
    expect(result.response).toEqual({ uid: 'u-1', allowed: true });
    expect(ensured).toEqual([]);
  });

  it('patches an image the update changes on a Pod that has the pull secret, and ensures the secret', async () => {
    const { ctx, ensured } = context();
    const old = withSecret(pod());
    const result = await admit(request({ operation: 'UPDATE', object: withImage(old, 'quay.io/acme/web:2'), oldObject: old }), ctx);
    expect(result.decision).toBe('mutated');
    const patch = JSON.parse(Buffer.from(result.response.patch!, 'base64').toString('utf8'));
    expect(patch).toContainEqual({ op: 'replace', path: '/spec/containers/0/image', value: 'proxy.example.com/proxy/my-app/quay.io/acme/web:2' });
    expect(ensured).toEqual(['my-app']);
  });

  it('admits a changed image on a Pod without the pull secret unchanged, with the warning', async () => {
    const { ctx } = context();
    const result = await admit(request({ operation: 'UPDATE', object: withImage(pod(), 'quay.io/acme/web:2'), oldObject: pod() }), ctx);
    expect(result.decision).toBe('unchanged');
    expect(result.response.patch).toBeUndefined();
    expect(result.response.warnings).toEqual([expect.stringContaining('no pull secret "my-app-registry"')]);
  });

  it('changes nothing when the review has no stored Pod', async () => {
    const { ctx } = context();
    const result = await admit(request({ operation: 'UPDATE', object: withSecret(pod()) }), ctx);
    expect(result.decision).toBe('unchanged');
    expect(result.response).toEqual({ uid: 'u-1', allowed: true });
  });
});
