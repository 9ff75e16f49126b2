// The namespace gate's lookup for a namespace its watch does not show as served: one read from the
// API server, and a failed read remembered for a while, so a hung API server does not hold every
// admission in that namespace for the call deadline.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FAILURE_MEMORY_MS } from '../../../src/k8s/admission-pull-secret.ts';
import { ApiCallBudget } from '../../../src/k8s/api-call-budget.ts';
import type { ClusterState } from '../../../src/k8s/cluster-state.ts';
import { loadKubeConfig } from '../../../src/k8s/kube-config.ts';
import { namespaceGate } from '../../../src/k8s/namespace-gate.ts';
import { namespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { kubeStatus, startKubeStub, type KubeStub } from '../helpers/kube-stub.ts';
import { generateTls } from '../helpers/tls.ts';

const OPT_IN = { 'pullgate.dev/inject': 'enabled' };
/** A watch that has not seen any namespace yet. */
const EMPTY_CACHE: ClusterState = { synced: () => true, namespace: () => undefined, namespaceNames: () => [], pullSecret: () => undefined, start: () => {}, stop: async () => {} };

let stub: KubeStub | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await stub?.close();
  dir?.remove();
});

async function gate() {
  dir = tempDir();
  stub = await startKubeStub(generateTls(dir.path));
  const core = loadKubeConfig(stub.writeKubeconfig(`${dir.path}/kubeconfig`)).makeApiClient(CoreV1Api);
  let clock = 1_000_000;
  const scope = namespaceScope({ additional: [], all: false, optInLabel: { key: 'pullgate.dev/inject', value: 'enabled' }, exclude: [] }, 'pullgate');
  const serves = namespaceGate({ scope, state: EMPTY_CACHE, core, budget: new ApiCallBudget({ maxInFlight: 4, deadlineMs: 2_000 }), now: () => clock });
  const reads = () => stub!.calls.filter((c) => c.path.startsWith('/api/v1/namespaces/')).length;
  return { stub, serves, reads, advance: (ms: number) => void (clock += ms) };
}

describe('namespaceGate', () => {
  it('reads a namespace the watch has not shown, and serves it when the API server has the opt-in label', async () => {
    const { stub, serves, reads } = await gate();
    stub.addNamespace('team-a', OPT_IN);
    expect(await serves('team-a')).toBe(true);
    expect(reads()).toBe(1);
  });

  it('remembers a failed read: "not served" at once and no request until it expires', async () => {
    const { stub, serves, reads, advance } = await gate();
    stub.addNamespace('team-a', OPT_IN);
    stub.intercept = () => ({ status: 500, body: kubeStatus(500, 'InternalError', 'etcd unavailable') });
    expect(await serves('team-a')).toBe(false);
    expect(reads()).toBe(1);
    delete stub.intercept;
    expect(serves('team-a')).toBe(false);
    expect(reads()).toBe(1);
    advance(FAILURE_MEMORY_MS + 1);
    expect(await serves('team-a')).toBe(true);
    expect(reads()).toBe(2);
  });
});
