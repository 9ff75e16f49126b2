// Leader election on the real API server, by electors holding pullgate's ServiceAccount rights as
// rendered (src/k8s/access-policy.ts): exactly one leads and keeps leading, a stopped leader hands
// over at once, a leader cut off from the API server hands over once its lease has run out.
// The electors run in a namespace of their own, with the same Role and the same Lease name as the
// shared pullgate, which competes for its own Lease in its own namespace.
import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_LEASE_NAME, rbacManifests } from '../../src/k8s/access-policy.ts';
import { ApiCallBudget } from '../../src/k8s/api-call-budget.ts';
import { startLeaderElection, type LeaderElection } from '../../src/k8s/leader-lease.ts';
import { createLogger } from '../../src/logger.ts';
import type { ClusterClient } from '../cluster/client.ts';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { SECRET_NAME } from './support/scenario.ts';

const LEASE_SECONDS = 6;
const RENEW_MS = 1_500;
const RETRY_MS = 500;
const CALL_DEADLINE_MS = 2_000;

const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });

interface Elector {
  identity: string;
  election: LeaderElection;
  started: number[];
  stopped: number[];
  /** From now on every API call fails, as if the replica had lost the API server (or died without a word). */
  cutOff(): void;
}

describe.skipIf(unavailable)('leader election on the real API server', () => {
  let client: ClusterClient;
  let ns: string;
  let kubeconfig: string;
  const electors: Elector[] = [];

  function elector(identity: string): Elector {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const api = kc.makeApiClient(CoordinationV1Api);
    const budget = new ApiCallBudget({ maxInFlight: 4, deadlineMs: CALL_DEADLINE_MS });
    let cut = false;
    const e: Elector = { identity, started: [], stopped: [], cutOff: () => (cut = true), election: undefined as unknown as LeaderElection };
    e.election = startLeaderElection({
      api,
      namespace: ns,
      identity,
      leaseDurationSeconds: LEASE_SECONDS,
      renewIntervalMs: RENEW_MS,
      retryIntervalMs: RETRY_MS,
      callWithDeadline: (call) => (cut ? Promise.reject(new TypeError('fetch failed')) : budget.run(call)),
      onStartedLeading: () => void e.started.push(Date.now()),
      onStoppedLeading: () => void e.stopped.push(Date.now()),
      logger,
    });
    electors.push(e);
    return e;
  }

  const leaders = () => electors.filter((e) => e.election.isLeader());
  const lease = () => getJson(client, ['lease', DEFAULT_LEASE_NAME, '-n', ns]);

  beforeAll(async () => {
    client = e2e().client;
    ns = `lease-${randomBytes(3).toString('hex')}`;
    await client.kubectl(['create', 'namespace', ns]);
    // pullgate's ServiceAccount, Role and RoleBinding as rendered for this namespace; the cluster-wide
    // objects are the shared pullgate's and stay as they are.
    const own = rbacManifests({ namespace: ns, serviceAccount: 'pullgate', pullSecretName: SECRET_NAME, leaseName: DEFAULT_LEASE_NAME })
      .filter((m) => m.metadata?.namespace === ns);
    expect(own.map((m) => m.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding']);
    await client.kubectl(['apply', '-f', '-'], { input: own.map((m) => stringify(m)).join('---\n') });
    kubeconfig = await client.serviceAccountKubeconfig(ns, 'pullgate');
  });

  afterAll(async () => {
    await Promise.all(electors.map((e) => e.election.stop()));
    if (ns) await client.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
    // Nothing the electors logged carries an error of their own making.
    expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });

  it('lets that identity touch only the one Lease', async () => {
    const as = { kubeconfig, allowFailure: true };
    expect((await client.kubectl(['auth', 'can-i', 'update', `lease/${DEFAULT_LEASE_NAME}`, '-n', ns], as)).stdout.trim()).toBe('yes');
    for (const denied of [['update', 'lease/other'], ['get', 'lease/other'], ['list', 'leases'], ['delete', `lease/${DEFAULT_LEASE_NAME}`], ['patch', `lease/${DEFAULT_LEASE_NAME}`]]) {
      expect((await client.kubectl(['auth', 'can-i', ...denied, '-n', ns], as)).stdout.trim(), denied.join(' ')).toBe('no');
    }
  });

  it('elects exactly one of two electors, which keeps renewing without any change of leader for 20 s', async () => {
    const a = elector('replica-a');
    const b = elector('replica-b');
    const [leader] = await eventually('a leader', () => (leaders().length > 0 ? leaders() : undefined), 30_000);
    expect(leaders()).toEqual([leader]);
    expect((await lease()).spec.holderIdentity).toBe(leader!.identity);

    const renewTimes = new Set<string>();
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      expect(leaders().map((e) => e.identity)).toEqual([leader!.identity]);
      renewTimes.add((await lease()).spec.renewTime);
      await new Promise((r) => setTimeout(r, 250));
    }
    // One start, no stop: no flapping. And the lease was renewed all along.
    expect(a.started.length + b.started.length).toBe(1);
    expect(a.stopped.length + b.stopped.length).toBe(0);
    expect(renewTimes.size).toBeGreaterThanOrEqual(20_000 / RENEW_MS / 2);
    const current = await lease();
    expect(current.spec).toMatchObject({ holderIdentity: leader!.identity, leaseDurationSeconds: LEASE_SECONDS, leaseTransitions: 0 });
    expect(current.spec.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('hands over at once when the leader stops: it releases the lease', async () => {
    const [leader] = leaders();
    const [follower] = electors.filter((e) => e !== leader);
    await leader!.election.stop();
    const stoppedAt = Date.now();
    expect(leader!.stopped).toHaveLength(1);
    expect(leader!.election.isLeader()).toBe(false);
    await eventually('the follower to lead', () => follower!.election.isLeader(), 30_000);
    // Well before the lease could have expired.
    expect(follower!.started[0]! - stoppedAt).toBeLessThan((LEASE_SECONDS * 1000) / 2);
    expect((await lease()).spec).toMatchObject({ holderIdentity: follower!.identity, leaseTransitions: 1 });
  });

  it('hands over only once the lease has run out when the leader is cut off, and never with two leaders', async () => {
    const [leader] = leaders();
    const follower = elector('replica-c');
    await eventually('the new elector to see the lease held', async () => (await lease()).spec.holderIdentity === leader!.identity && follower.started.length === 0, 30_000);
    // Let the new elector observe at least one renewal before the leader goes silent.
    const seen = (await lease()).spec.renewTime;
    await eventually('a renewal', async () => (await lease()).spec.renewTime !== seen, 30_000);

    leader!.cutOff();
    const cutAt = Date.now();
    let overlap = false;
    await eventually(
      'the follower to take over',
      () => {
        if (leader!.election.isLeader() && follower.election.isLeader()) overlap = true;
        return follower.election.isLeader();
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const tookOver = follower.started[0]! - cutAt;
    // Not before the lease ran out (it was renewed at most one renew interval before the cut)...
    expect(tookOver).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000 - RENEW_MS - 500);
    // ...and not much later either.
    expect(tookOver).toBeLessThan(LEASE_SECONDS * 1000 + 5_000);
    expect(overlap).toBe(false);
    // The cut-off leader had stepped down by itself before the follower took over.
    expect(leader!.election.isLeader()).toBe(false);
    expect(leader!.stopped).toHaveLength(1);
    expect(leader!.stopped[0]!).toBeLessThanOrEqual(follower.started[0]!);
    expect((await lease()).spec).toMatchObject({ holderIdentity: follower.identity, leaseTransitions: 2 });
  });
});
