// Leader election over time, with the clock and timers faked and the Lease kept by a stand-in for
// the API server's Lease endpoints (404 on a missing Lease, 409 on a create that lost the race or a
// write with a stale resourceVersion). The real API server is exercised by test/e2e/leader-lease.
import { ApiException, type ConfigurationOptions, type RequestContext, type V1Lease } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startLeaderElection, type LeaderElection, type LeaseApi } from '../../../src/k8s/leader-lease.ts';
import { captureLogs } from '../helpers/logs.ts';

const status = (code: number, reason: string) => new ApiException(code, `HTTP ${code}`, JSON.stringify({ kind: 'Status', code, reason }), {});
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** One Lease, with a resourceVersion, and a log of every write. */
class LeaseServer {
  lease: V1Lease | undefined;
  #version = 0;
  readonly writes: Array<{ by: string; op: 'create' | 'replace'; holder: string; at: number }> = [];
  /** Replicas whose calls fail as if the API server were unreachable. */
  readonly unreachable = new Set<string>();
  /** Replicas whose calls never get an answer (until their signal aborts them). */
  readonly hanging = new Set<string>();

  api(by: string, events: string[] = []): LeaseApi {
    const answer = async <T>(options: unknown, work: () => T): Promise<T> => {
      const signal = signalOf(options);
      await Promise.resolve();
      if (this.unreachable.has(by)) throw new TypeError('fetch failed');
      if (this.hanging.has(by)) {
        return new Promise<T>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      }
      await this.gate;
      return work();
    };
    const store = (body: V1Lease, op: 'create' | 'replace'): V1Lease => {
      this.lease = wire({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#version) } });
      this.writes.push({ by, op, holder: body.spec?.holderIdentity ?? '', at: Date.now() });
      events.push(`${op}:${body.spec?.holderIdentity ?? ''}`);
      return wire(this.lease);
    };
    const api = {
      readNamespacedLease: (_: unknown, options: unknown) =>
        answer(options, () => {
          if (!this.lease) throw status(404, 'NotFound');
          return wire(this.lease);
        }),
      createNamespacedLease: ({ body }: { body: V1Lease }, options: unknown) =>
        answer(options, () => {
          if (this.lease) throw status(409, 'AlreadyExists');
          return store(body, 'create');
        }),
      replaceNamespacedLease: ({ body }: { body: V1Lease }, options: unknown) =>
        answer(options, () => {
          if (!this.lease) throw status(404, 'NotFound');
          if (body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw status(409, 'Conflict');
          return store(body, 'replace');
        }),
    };
    return api as unknown as LeaseApi;
  }

  /** While set, answers wait for it. */
  gate: Promise<void> | undefined;
}

/** The signal a call's per-call options (signalOptions) put on its request; every call must carry one. */
function signalOf(options: unknown): AbortSignal {
  let signal: AbortSignal | undefined;
  const middleware = (options as ConfigurationOptions | undefined)?.middleware ?? [];
  for (const m of middleware) m.pre({ setSignal: (s: AbortSignal) => (signal = s) } as unknown as RequestContext);
  if (!signal) throw new Error('an API call without an abort signal');
  return signal;
}

interface Replica {
  election: LeaderElection;
  events: string[];
  started: number[];
  stopped: number[];
}

const DURATION_S = 15;
const RENEW_MS = 5_000;
const RETRY_MS = 2_000;
/** Longest one API call may take in these tests. */
const CALL_DEADLINE_MS = 20_000;

let server: LeaseServer;
let replicas: Replica[];
const logs = captureLogs();

function start(identity: string, onStopped?: () => Promise<void>): Replica {
  const events: string[] = [];
  const api = server.api(identity, events);
  const replica: Replica = { events, started: [], stopped: [], election: undefined as unknown as LeaderElection };
  replica.election = startLeaderElection({
    api,
    namespace: 'pullgate',
    identity,
    leaseDurationSeconds: DURATION_S,
    renewIntervalMs: RENEW_MS,
    retryIntervalMs: RETRY_MS,
    callWithDeadline: (call) => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), CALL_DEADLINE_MS);
      return call(controller.signal).finally(() => clearTimeout(timer));
    },
    onStartedLeading: () => {
      replica.started.push(Date.now());
      events.push('started');
    },
    onStoppedLeading: async () => {
      replica.stopped.push(Date.now());
      events.push('stopped');
      await onStopped?.();
    },
    logger: logs.logger,
  });
  replicas.push(replica);
  return replica;
}

const leaders = () => replicas.filter((r) => r.election.isLeader());

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2030-01-01T00:00:00Z') });
  server = new LeaseServer();
  replicas = [];
});

afterEach(async () => {
  // A call still in flight (hanging) ends at its deadline; stop() waits for it.
  const stopping = Promise.all(replicas.map((r) => r.election.stop()));
  await vi.advanceTimersByTimeAsync(CALL_DEADLINE_MS);
  await stopping;
  vi.useRealTimers();
});

describe('leader election', () => {
  it('elects exactly one of two replicas started together (one create wins, the other reads what it wrote), and keeps it', async () => {
    const a = start('replica-a');
    const b = start('replica-b');
    await vi.advanceTimersByTimeAsync(100);
    expect(leaders()).toHaveLength(1);
    const [leader] = leaders();
    expect(server.lease?.spec?.holderIdentity).toBe(leader === a ? 'replica-a' : 'replica-b');
    expect(server.writes.filter((w) => w.op === 'create')).toHaveLength(1);

    // Ten minutes of renewals: no takeover, no flapping, about one renewal per interval.
    const writesBefore = server.writes.length;
    for (let t = 0; t < 600_000; t += 1_000) {
      await vi.advanceTimersByTimeAsync(1_000);
      expect(leaders()).toEqual([leader]);
    }
    expect(a.started.length + b.started.length).toBe(1);
    expect(a.stopped.length + b.stopped.length).toBe(0);
    expect(server.writes.length - writesBefore).toBeGreaterThanOrEqual(600_000 / RENEW_MS - 1);
    expect(new Set(server.writes.map((w) => w.holder))).toEqual(new Set([leader === a ? 'replica-a' : 'replica-b']));
    expect(server.lease?.spec?.leaseTransitions).toBe(0);
  });

  it('on stop, stops leading first, then releases the lease, and the peer takes over at its next attempt', async () => {
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(100);
    const b = start('replica-b');
    await vi.advanceTimersByTimeAsync(100);
    expect(leaders()).toEqual([a]);

    const stoppedAt = Date.now();
    await a.election.stop();
    expect(a.events.slice(-2)).toEqual(['stopped', 'replace:']);
    expect(server.lease?.spec?.holderIdentity).toBeUndefined();
    expect(a.election.isLeader()).toBe(false);

    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(leaders()).toEqual([b]);
    expect(b.started[0]! - stoppedAt).toBeLessThanOrEqual(RETRY_MS);
    expect(server.lease?.spec?.leaseTransitions).toBe(1);
  });

  it('waits for onStoppedLeading before releasing, so the peer never leads while the old leader still works', async () => {
    let finish!: () => void;
    const a = start('replica-a', () => new Promise<void>((resolve) => (finish = resolve)));
    await vi.advanceTimersByTimeAsync(100);
    const b = start('replica-b');
    const stopping = a.election.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.lease?.spec?.holderIdentity).toBe('replica-a');
    expect(b.election.isLeader()).toBe(false);
    finish();
    await stopping;
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(leaders()).toEqual([b]);
  });

  it('a leader cut off from the API server stops leading when its lease runs out, before the peer may take over', async () => {
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(100);
    const b = start('replica-b');
    await vi.advanceTimersByTimeAsync(RENEW_MS * 3);
    const lastRenewal = server.writes.at(-1)!.at;
    server.unreachable.add('replica-a');

    let overlap = false;
    while (!b.election.isLeader()) {
      await vi.advanceTimersByTimeAsync(100);
      if (a.election.isLeader() && b.election.isLeader()) overlap = true;
      expect(Date.now() - lastRenewal).toBeLessThan(DURATION_S * 1000 + RETRY_MS + RENEW_MS);
    }
    expect(overlap).toBe(false);
    expect(a.stopped).toHaveLength(1);
    expect(a.stopped[0]! - lastRenewal).toBeLessThanOrEqual(DURATION_S * 1000);
    expect(b.started[0]! - lastRenewal).toBeGreaterThanOrEqual(DURATION_S * 1000);
    expect(b.started[0]!).toBeGreaterThanOrEqual(a.stopped[0]!);
    expect(logs.text()).toContain('leader lease not renewed; retrying');

    // Reachable again: it finds the peer holding the lease and follows.
    server.unreachable.delete('replica-a');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(leaders()).toEqual([b]);
  });

  it('stops leading at the end of the lease even while a renewal hangs', async () => {
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(100);
    const renewedAt = server.writes.at(-1)!.at;
    server.hanging.add('replica-a');
    await vi.advanceTimersByTimeAsync(DURATION_S * 1000 - 200);
    expect(a.election.isLeader()).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(a.election.isLeader()).toBe(false);
    expect(a.stopped[0]! - renewedAt).toBe(DURATION_S * 1000);
  });

  it('a leader whose lease was taken over (its write refused with 409) reads the lease again and steps down', async () => {
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(100);
    // Another replica takes the lease over, as one would that saw it expire.
    server.lease = wire({ ...server.lease!, metadata: { ...server.lease!.metadata, resourceVersion: '999' }, spec: { ...server.lease!.spec, holderIdentity: 'replica-z' } });
    await vi.advanceTimersByTimeAsync(RENEW_MS + RETRY_MS + 100);
    expect(a.election.isLeader()).toBe(false);
    expect(a.stopped).toHaveLength(1);
    expect(server.lease?.spec?.holderIdentity).toBe('replica-z');
    // And does not take it back while replica-z's lease runs (replica-z never renews here, so it does once it expires).
    await vi.advanceTimersByTimeAsync(DURATION_S * 1000 - RETRY_MS * 2);
    expect(a.election.isLeader()).toBe(false);
    await vi.advanceTimersByTimeAsync(RETRY_MS * 3);
    expect(a.election.isLeader()).toBe(true);
  });

  it('leaves no timer behind after stop(), leading or not, and a follower stops without writing', async () => {
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(100);
    const b = start('replica-b');
    await vi.advanceTimersByTimeAsync(100);
    const writes = server.writes.length;
    await b.election.stop();
    expect(server.writes.length).toBe(writes);
    expect(b.stopped).toEqual([]);
    await a.election.stop();
    expect(vi.getTimerCount()).toBe(0);
    await a.election.stop(); // idempotent
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.writes.length).toBe(writes + 1);
  });

  it('stop() during an attempt that acquires the lease releases it', async () => {
    let answer!: () => void;
    server.gate = new Promise<void>((resolve) => (answer = resolve));
    const a = start('replica-a');
    await vi.advanceTimersByTimeAsync(0); // the first attempt is waiting for the API server
    const stopping = a.election.stop();
    answer();
    await stopping;
    expect(a.started).toEqual([]);
    expect(server.writes.map((w) => w.holder)).toEqual(['replica-a', '']);
  });
});
