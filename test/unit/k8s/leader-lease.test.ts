// The decisions of leader election, as pure functions: what a replica makes of the Lease it read.
import { describe, expect, it } from 'vitest';
import { decide, leaseRecord, nextSpec, observe, type LeaseRecord } from '../../../src/k8s/leader-lease.ts';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const record = (changes: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: 'replica-b',
  leaseDurationSeconds: 15,
  acquireTime: '2030-01-01T00:00:00.000000Z',
  renewTime: '2030-01-01T00:00:00.000000Z',
  leaseTransitions: 3,
  ...changes,
});

describe('observe', () => {
  it('keeps the time a record was first seen while it stays the same, and restarts it when any field changes', () => {
    const first = observe(undefined, record(), T0);
    expect(first.observedAt).toBe(T0);
    expect(observe(first, record(), T0 + 9_000)).toBe(first);
    for (const change of [{ renewTime: '2030-01-01T00:00:05.000000Z' }, { holderIdentity: 'replica-c' }, { leaseTransitions: 4 }, { leaseDurationSeconds: 20 }, { acquireTime: 'x' }]) {
      expect(observe(first, record(change), T0 + 9_000).observedAt).toBe(T0 + 9_000);
    }
  });
});

describe('decide', () => {
  it('renews a lease this replica holds, and takes a free one', () => {
    expect(decide(observe(undefined, record({ holderIdentity: 'replica-a' }), T0), 'replica-a', T0)).toEqual({ action: 'renew' });
    expect(decide(observe(undefined, record({ holderIdentity: '' }), T0), 'replica-a', T0)).toEqual({ action: 'acquire' });
  });

  it("waits while another holder's lease runs, counted from when this replica saw it renewed, then takes it over", () => {
    const seen = observe(undefined, record(), T0);
    expect(decide(seen, 'replica-a', T0 + 14_999)).toEqual({ action: 'wait', holder: 'replica-b', expiresAt: T0 + 15_000 });
    expect(decide(seen, 'replica-a', T0 + 15_000)).toEqual({ action: 'acquire' });
    // Seeing it renewed restarts the wait.
    const renewed = observe(seen, record({ renewTime: '2030-01-01T00:00:10.000000Z' }), T0 + 10_000);
    expect(decide(renewed, 'replica-a', T0 + 20_000)).toMatchObject({ action: 'wait', expiresAt: T0 + 25_000 });
  });

  it('ignores the times written in the lease: a holder whose clock is far behind or ahead is judged by the local clock', () => {
    const behind = observe(undefined, record({ renewTime: '1999-01-01T00:00:00.000000Z' }), T0);
    expect(decide(behind, 'replica-a', T0 + 1_000)).toMatchObject({ action: 'wait' });
    const ahead = observe(undefined, record({ renewTime: '2099-01-01T00:00:00.000000Z' }), T0);
    expect(decide(ahead, 'replica-a', T0 + 15_000)).toEqual({ action: 'acquire' });
  });

  it("uses the holder's lease duration, as written in the lease", () => {
    const seen = observe(undefined, record({ leaseDurationSeconds: 60 }), T0);
    expect(decide(seen, 'replica-a', T0 + 59_000)).toMatchObject({ action: 'wait', expiresAt: T0 + 60_000 });
  });
});

describe('leaseRecord', () => {
  it('reads what the client returns, filling what a Lease may leave out', () => {
    expect(leaseRecord({ spec: { holderIdentity: 'x', renewTime: '2030-01-01T00:00:00.123456Z' as never, leaseDurationSeconds: 7, leaseTransitions: 2 } }, 15)).toEqual({
      holderIdentity: 'x',
      leaseDurationSeconds: 7,
      acquireTime: '',
      renewTime: '2030-01-01T00:00:00.123456Z',
      leaseTransitions: 2,
    });
    expect(leaseRecord({}, 15)).toEqual({ holderIdentity: '', leaseDurationSeconds: 15, acquireTime: '', renewTime: '', leaseTransitions: 0 });
  });
});

describe('nextSpec', () => {
  const wire = (value: unknown) => JSON.parse(JSON.stringify(value));

  it('creates with no transitions, and writes MicroTime with six fractional digits as the API server requires', () => {
    const spec = wire(nextSpec('acquire', undefined, 'replica-a', 15, T0 + 250));
    expect(spec).toEqual({ holderIdentity: 'replica-a', leaseDurationSeconds: 15, acquireTime: '2030-01-01T00:00:00.250000Z', renewTime: '2030-01-01T00:00:00.250000Z', leaseTransitions: 0 });
  });

  it('counts a takeover as a transition, and a renewal keeps acquireTime and the count', () => {
    expect(wire(nextSpec('acquire', record(), 'replica-a', 15, T0))).toMatchObject({ holderIdentity: 'replica-a', leaseTransitions: 4 });
    const held = record({ holderIdentity: 'replica-a', acquireTime: '2029-12-31T23:00:00.123456Z' });
    expect(wire(nextSpec('renew', held, 'replica-a', 15, T0 + 5_000))).toEqual({
      holderIdentity: 'replica-a',
      leaseDurationSeconds: 15,
      acquireTime: '2029-12-31T23:00:00.123456Z',
      renewTime: '2030-01-01T00:00:05.000000Z',
      leaseTransitions: 3,
    });
  });

  it('releases by clearing the holder, so a peer takes over without waiting', () => {
    const released = wire(nextSpec('release', record({ holderIdentity: 'replica-a' }), 'replica-a', 15, T0));
    expect(released.holderIdentity).toBeUndefined();
    expect(released).toMatchObject({ leaseDurationSeconds: 1, leaseTransitions: 3 });
    expect(decide(observe(undefined, leaseRecord({ spec: released }, 15), T0), 'replica-b', T0)).toEqual({ action: 'acquire' });
  });
});
