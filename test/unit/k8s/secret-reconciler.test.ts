// The reconciler's queue and decisions, over a cluster state and a Secrets API held in memory.
// Conflict paths of a single pass are covered by reconcile-secret.test.ts; what the reconciler
// does against the real API server, by test/e2e/reconciler.test.ts.
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import type { ClusterState } from '../../../src/k8s/cluster-state.ts';
import type { Credential } from '../../../src/k8s/credential-source.ts';
import { namespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { PullSecretError } from '../../../src/k8s/reconcile-secret.ts';
import { secretReconciler, type ReconcileResult } from '../../../src/k8s/secret-reconciler.ts';
import type { SecretsApi } from '../../../src/k8s/secrets-api.ts';
import { captureLogs } from '../helpers/logs.ts';

const NAME = 'my-app-registry';
const OPT_IN = { 'pullgate.dev/inject': 'enabled' };
const scope = namespaceScope({ application: 'my-app', additional: [], all: false, optInLabel: { key: 'pullgate.dev/inject', value: 'enabled' }, exclude: ['kube-system'] }, 'pullgate');

/** A cluster in memory: namespaces with labels, and the pull secret per namespace, as a synced watch would hold them. */
function cluster(namespaces: Record<string, Record<string, string>>) {
  const labels = new Map(Object.entries(namespaces));
  const secrets = new Map<string, V1Secret>();
  const calls: string[] = [];
  let version = 0;
  let failNext: ((call: string) => Error | undefined) | undefined;
  const state: ClusterState = {
    synced: () => true,
    namespace: (name) => (labels.has(name) ? { labels: labels.get(name), terminating: false } : undefined),
    namespaceNames: () => [...labels.keys()],
    pullSecret: (ns) => secrets.get(ns) ?? null,
    start() {},
    async stop() {},
  };
  const record = (call: string) => {
    calls.push(call);
    const err = failNext?.(call);
    if (err) throw err;
  };
  const api: SecretsApi = {
    async read(ns) {
      record(`read ${ns}`);
      return secrets.get(ns);
    },
    async create(ns, body) {
      record(`create ${ns}`);
      const stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++version) } };
      secrets.set(ns, stored);
      return stored;
    },
    async replace(ns, _name, body) {
      record(`replace ${ns}`);
      const stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++version) } };
      secrets.set(ns, stored);
      return stored;
    },
    async delete(ns) {
      record(`delete ${ns}`);
      secrets.delete(ns);
    },
  };
  return { state, api, labels, secrets, calls, failWith: (f: typeof failNext) => (failNext = f) };
}

function reconciler(c: ReturnType<typeof cluster>, credential: () => Credential, retryMs = { first: 5, max: 20 }) {
  const results: ReconcileResult[] = [];
  const r = secretReconciler({ state: c.state, scope, api: c.api, pullSecretName: NAME, credential, logger: captureLogs().logger, onResult: (x) => results.push(x), retryMs });
  return { r, results };
}

const credentialOf = (text: string): Credential => ({ dockerConfigJson: Buffer.from(text).toString('base64') });
const dataIn = (s: V1Secret | undefined) => Buffer.from(s!.data!['.dockerconfigjson']!, 'base64').toString();

describe('secretReconciler', () => {
  it('does nothing until it is active (holds the lease), then creates the secret in every namespace in scope and nowhere else', async () => {
    const c = cluster({ 'my-app': {}, 'team-a': OPT_IN, 'team-b': {}, 'kube-system': OPT_IN, pullgate: OPT_IN });
    const { r } = reconciler(c, () => credentialOf('v1'));
    r.enqueueAll();
    await r.idle();
    expect(c.calls).toEqual([]);
    r.setActive(true);
    await r.idle();
    expect(c.calls.sort()).toEqual(['create my-app', 'create team-a']);
    expect(dataIn(c.secrets.get('team-a'))).toBe('v1');
    r.stop();
  });

  it('asks the API server nothing for a namespace whose cached secret is current', async () => {
    const c = cluster({ 'my-app': {} });
    const { r, results } = reconciler(c, () => credentialOf('v1'));
    r.setActive(true);
    await r.idle();
    c.calls.length = 0;
    for (let i = 0; i < 50; i++) r.enqueue('my-app');
    await r.idle();
    expect(c.calls).toEqual([]);
    expect(results.filter((x) => x === 'unchanged').length).toBeGreaterThan(0);
    r.stop();
  });

  it('follows a new credential with one write per namespace', async () => {
    const c = cluster({ 'my-app': {}, 'team-a': OPT_IN, 'team-b': OPT_IN });
    let credential = credentialOf('v1');
    const { r } = reconciler(c, () => credential);
    r.setActive(true);
    await r.idle();
    c.calls.length = 0;
    credential = credentialOf('v2');
    r.enqueueAll();
    r.enqueueAll();
    await r.idle();
    expect(c.calls.sort()).toEqual(['replace my-app', 'replace team-a', 'replace team-b']);
    for (const ns of ['my-app', 'team-a', 'team-b']) expect(dataIn(c.secrets.get(ns))).toBe('v2');
    r.stop();
  });

  it('keeps, and no longer maintains, the secret of a namespace that left scope', async () => {
    const c = cluster({ 'team-a': OPT_IN });
    let credential = credentialOf('v1');
    const { r } = reconciler(c, () => credential);
    r.setActive(true);
    await r.idle();
    c.labels.set('team-a', {});
    credential = credentialOf('v2');
    r.enqueue('team-a');
    await r.idle();
    expect(dataIn(c.secrets.get('team-a'))).toBe('v1');
    r.stop();
  });

  it('retries a failed namespace with a growing pause, and stops once it succeeds', async () => {
    const c = cluster({ 'my-app': {} });
    let failures = 3;
    c.failWith((call) => (call.startsWith('create') && failures-- > 0 ? new PullSecretError('creating secret my-app/my-app-registry failed: timeout', false) : undefined));
    const { r, results } = reconciler(c, () => credentialOf('v1'));
    r.setActive(true);
    await expect.poll(() => c.secrets.has('my-app'), { timeout: 5_000 }).toBe(true);
    expect(c.calls.filter((x) => x === 'create my-app')).toHaveLength(4);
    expect(results.filter((x) => x === 'error')).toHaveLength(3);
    r.stop();
  });

  it('waits for the next change rather than retrying a persistent failure (an unmanaged secret in the way)', async () => {
    const c = cluster({ 'my-app': {} });
    c.secrets.set('my-app', { metadata: { name: NAME, namespace: 'my-app', resourceVersion: '1' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'b3RoZXI=' } });
    vi.useFakeTimers();
    try {
      const { r, results } = reconciler(c, () => credentialOf('v1'));
      r.setActive(true);
      await r.idle();
      expect(results).toEqual(['error']);
      // Far past every retry pause (at most 20 ms here), short of the periodic resync.
      await vi.advanceTimersByTimeAsync(60_000);
      expect(results).toEqual(['error']);
      expect(c.calls).toEqual([]);
      r.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes nothing while the credential is unavailable, and catches up when it appears', async () => {
    const c = cluster({ 'my-app': {} });
    let credential: Credential = { unavailable: 'credential secret pullgate/vendor not found' };
    const { r, results } = reconciler(c, () => credential);
    r.setActive(true);
    await r.idle();
    expect(results).toEqual(['no-credential']);
    credential = credentialOf('copied');
    r.enqueueAll();
    await r.idle();
    expect(dataIn(c.secrets.get('my-app'))).toBe('copied');
    r.stop();
  });

  it('stops working when it loses the lease', async () => {
    const c = cluster({ 'my-app': {} });
    const { r } = reconciler(c, () => credentialOf('v1'));
    r.setActive(true);
    await r.idle();
    r.setActive(false);
    c.secrets.delete('my-app');
    c.calls.length = 0;
    r.enqueue('my-app');
    await r.idle();
    expect(c.calls).toEqual([]);
    r.stop();
  });
});
