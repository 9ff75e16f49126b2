// The pull secret as admission asks for it: answered from the cache without a request, a promise or
// a timer when the cache knows the secret; created when missing; and a failed attempt remembered
// for a while, so a hung or unreachable API server does not hold every admission for its deadline.
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { admissionPullSecret, FAILURE_MEMORY_MS, type EnsureResult } from '../../../src/k8s/admission-pull-secret.ts';
import type { ClusterState } from '../../../src/k8s/cluster-state.ts';
import { derivedDockerConfigJsonBase64, pullSecretManifest } from '../../../src/k8s/pull-secret-manifest.ts';
import { PullSecretError } from '../../../src/k8s/reconcile-secret.ts';
import { LICENSE_ID } from '../helpers/fixtures.ts';
import { MemorySecrets } from './memory-secrets.ts';

const NAME = 'my-app-registry';
const DATA = derivedDockerConfigJsonBase64({ name: NAME, proxyDomain: 'proxy.example.com', registryDomain: 'registry.example.com', licenseID: LICENSE_ID });

/** The synced watch cache: what the API stored, as of the last deliver() (a watch lags behind writes). */
function watchOf(api: MemorySecrets) {
  const seen = new Map<string, V1Secret>();
  const state: ClusterState = {
    synced: () => true,
    namespace: () => undefined,
    namespaceNames: () => [],
    pullSecret: (namespace) => seen.get(namespace) ?? null,
    start: () => {},
    stop: async () => {},
  };
  const deliver = (namespace: string) => {
    const stored = api.get(namespace, NAME);
    if (stored) seen.set(namespace, stored);
    else seen.delete(namespace);
  };
  return { state, deliver };
}

function setup() {
  const api = new MemorySecrets({ hangMs: 30 });
  let clock = 1_000_000;
  const results: Array<[string, EnsureResult]> = [];
  const watch = watchOf(api);
  const ensure = admissionPullSecret({
    state: watch.state,
    api,
    pullSecretName: () => NAME,
    credential: () => ({ dockerConfigJson: DATA }),
    onResult: (namespace, result) => void results.push([namespace, result]),
    now: () => clock,
  });
  return { api, ensure, results, deliver: watch.deliver, advance: (ms: number) => void (clock += ms) };
}

async function outcome(value: unknown): Promise<unknown> {
  try {
    return await value;
  } catch (err) {
    return err;
  }
}

describe('admissionPullSecret', () => {
  it('answers synchronously, with no request, when the cache holds the current secret', () => {
    const { api, ensure, results, deliver } = setup();
    api.put(pullSecretManifest(NAME, 'team-a', DATA) as V1Secret);
    deliver('team-a');
    expect(ensure('team-a')).toBe('unchanged');
    expect(api.calls).toEqual([]);
    expect(results).toEqual([['team-a', 'unchanged']]);
  });

  it('throws synchronously for a cached secret of that name that differs and is not pullgate\'s', () => {
    const { api, ensure, results, deliver } = setup();
    api.put({ metadata: { name: NAME, namespace: 'team-a' }, type: 'Opaque', data: { token: 'eA==' } });
    deliver('team-a');
    expect(() => ensure('team-a')).toThrow(PullSecretError);
    expect(api.calls).toEqual([]);
    expect(results).toEqual([['team-a', 'error']]);
  });

  it('creates a missing secret once for concurrent admissions', async () => {
    const { api, ensure, results } = setup();
    const all = await Promise.all([ensure('team-a'), ensure('team-a'), ensure('team-a')]);
    expect(all).toEqual(['created', 'created', 'created']);
    expect(api.ops()).toEqual(['create']);
    expect(results.map(([, r]) => r)).toEqual(['created', 'created', 'created']);
  });

  it('remembers a failed attempt: admissions meanwhile fail at once with no request; the first after it tries again', async () => {
    const { api, ensure, results, deliver, advance } = setup();
    api.before = () => 'hang';
    const first = await outcome(ensure('team-a'));
    expect(first).toBeInstanceOf(PullSecretError);
    expect(api.ops()).toEqual(['create']);

    // Within the memory: the same failure, thrown synchronously, nothing asked.
    for (let i = 0; i < 3; i++) expect(() => ensure('team-a')).toThrow(first as Error);
    expect(api.ops()).toEqual(['create']);
    // Another namespace is not affected by it.
    expect(await outcome(ensure('team-b'))).toBeInstanceOf(PullSecretError);
    expect(api.ops()).toEqual(['create', 'create']);

    // Past it, one admission tries again; the others keep the remembered failure until it settles.
    api.before = undefined;
    advance(FAILURE_MEMORY_MS + 1);
    const retry = ensure('team-a');
    expect(retry).toBeInstanceOf(Promise);
    expect(() => ensure('team-a')).toThrow(first as Error);
    expect(await retry).toBe('created');
    expect(api.ops()).toEqual(['create', 'create', 'create']);
    // Now known to the cache: synchronous again, and nothing remembered.
    deliver('team-a');
    expect(ensure('team-a')).toBe('unchanged');
    expect(results.filter(([ns]) => ns === 'team-a').map(([, r]) => r)).toEqual(['error', 'error', 'error', 'error', 'error', 'created', 'unchanged']);
  });

  it('an unavailable credential fails at once, asking nothing', () => {
    const api = new MemorySecrets();
    const ensure = admissionPullSecret({ state: watchOf(api).state, api, pullSecretName: () => NAME, credential: () => ({ unavailable: 'the credential Secret is missing' }) });
    expect(() => ensure('team-a')).toThrow('the credential Secret is missing');
    expect(api.calls).toEqual([]);
  });
});
