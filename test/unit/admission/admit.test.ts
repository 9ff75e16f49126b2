import { describe, expect, it } from 'vitest';
import { admit, modeOf, type AdmissionContext } from '../../../src/admission/admit.ts';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import { POLICY } from './policy-fixture.ts';

function context(overrides: Partial<AdmissionContext> = {}) {
  const ensured: string[] = [];
  const ctx: AdmissionContext = {
    policy: () => POLICY,
    standingWarnings: () => [],
    isExcludedNamespace: (ns) => ns === 'kube-system' || ns === 'pullgate',
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

  it('skips excluded namespaces and opted-out Pods', async () => {
    const { ctx, ensured } = context();
    expect((await admit(request({ namespace: 'kube-system' }), ctx)).decision).toBe('excluded');
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
