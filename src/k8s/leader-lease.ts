import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { DEFAULT_LEASE_NAME } from './access-policy.ts';
import { apiCallError, statusOf } from './api-error.ts';
import { signalOptions } from './api-call-budget.ts';

/** The calls leader election makes (a CoordinationV1Api, or a stand-in for one). */
export type LeaseApi = Pick<CoordinationV1Api, 'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'>;

export interface LeaderElectionOptions {
  api: LeaseApi;
  namespace: string;
  name?: string;
  /** This replica's name in the Lease; unique among the replicas. */
  identity: string;
  leaseDurationSeconds?: number;
  /** How often the leader renews. */
  renewIntervalMs?: number;
  /** How often a follower tries to acquire, and a leader retries a failed renewal. */
  retryIntervalMs?: number;
  /** Runs one API call with a deadline; the call must pass `signal` to the client. */
  callWithDeadline: <T>(call: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  onStartedLeading: () => void;
  /** Called once leading ends; stop() waits for it before releasing the Lease. */
  onStoppedLeading: () => void | Promise<void>;
  logger: Logger;
  now?: () => number;
}

export interface LeaderElection {
  isLeader(): boolean;
  /** Stops leading (onStoppedLeading first), releases the Lease if held, and leaves no timer behind. */
  stop(): Promise<void>;
}

/** The parts of a Lease that election reads. */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** The record as this replica last saw it change, and when, by its own clock. */
export interface Observation {
  record: LeaseRecord;
  observedAt: number;
}

export type Decision =
  /** Held by us: renew it. */
  | { action: 'renew' }
  /** Free, or its holder stopped renewing: take it over. */
  | { action: 'acquire' }
  /** Another replica holds it; it may be taken over from `expiresAt` (local clock) on. */
  | { action: 'wait'; holder: string; expiresAt: number };

function timeText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : '';
}

export function leaseRecord(lease: V1Lease, defaultDurationSeconds: number): LeaseRecord {
  const spec = lease.spec ?? {};
  const duration = spec.leaseDurationSeconds;
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: typeof duration === 'number' && duration > 0 ? duration : defaultDurationSeconds,
    acquireTime: timeText(spec.acquireTime),
    renewTime: timeText(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/**
 * The new observation after reading `record` at `now`. Expiry is measured from when this replica
 * saw the record change, never from the times written in it, so the clocks of the replicas need
 * not agree (as client-go's leader election does).
 */
export function observe(previous: Observation | undefined, record: LeaseRecord, now: number): Observation {
  if (previous && sameRecord(previous.record, record)) return previous;
  return { record, observedAt: now };
}

export function decide(observation: Observation, identity: string, now: number): Decision {
  const { record, observedAt } = observation;
  if (record.holderIdentity === identity) return { action: 'renew' };
  if (record.holderIdentity === '') return { action: 'acquire' };
  const expiresAt = observedAt + record.leaseDurationSeconds * 1000;
  return now >= expiresAt ? { action: 'acquire' } : { action: 'wait', holder: record.holderIdentity, expiresAt };
}

/** The spec to write: `previous` is the record read (undefined when creating the Lease). */
export function nextSpec(
  action: 'acquire' | 'renew' | 'release',
  previous: LeaseRecord | undefined,
  identity: string,
  leaseDurationSeconds: number,
  now: number,
): V1LeaseSpec {
  const at = new V1MicroTime(now);
  const transitions = previous?.leaseTransitions ?? 0;
  if (action === 'release') {
    // No holder: a peer takes over at its next attempt instead of waiting for expiry.
    return { leaseDurationSeconds: 1, acquireTime: at, renewTime: at, leaseTransitions: transitions };
  }
  if (action === 'renew' && previous?.acquireTime) {
    // Written back exactly as read (the client hands over the text it received, microseconds included).
    const acquireTime = previous.acquireTime as unknown as V1MicroTime;
    return { holderIdentity: identity, leaseDurationSeconds, acquireTime, renewTime: at, leaseTransitions: transitions };
  }
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: at,
    renewTime: at,
    leaseTransitions: previous === undefined ? 0 : previous.holderIdentity === identity ? transitions : transitions + 1,
  };
}

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: the Lease is
 * created if absent, taken over only once its holder has not renewed it for its duration (by the
 * local clock), and renewed with optimistic concurrency; a leader that cannot renew within the
 * lease duration stops leading before any peer may take over. stop() releases the Lease so a peer
 * takes over at once.
 */
export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const { api, namespace, identity, logger, callWithDeadline } = options;
  const name = options.name ?? DEFAULT_LEASE_NAME;
  const durationSeconds = options.leaseDurationSeconds ?? 15;
  const durationMs = durationSeconds * 1000;
  const renewIntervalMs = options.renewIntervalMs ?? 5_000;
  const retryIntervalMs = options.retryIntervalMs ?? 2_000;
  const now = options.now ?? Date.now;
  const log = logger.child({ lease: `${namespace}/${name}`, identity });
  if (!(durationSeconds >= 1) || !Number.isInteger(durationSeconds)) throw new RangeError(`leaseDurationSeconds must be a positive integer, got ${durationSeconds}`);
  if (!(renewIntervalMs < durationMs)) throw new RangeError(`renewIntervalMs (${renewIntervalMs}) must be shorter than the lease duration (${durationMs} ms)`);

  let leading = false;
  let stopped = false;
  let observation: Observation | undefined;
  /** The Lease as last read or written: a leader renews it without reading it again. */
  let known: V1Lease | undefined;
  let attemptTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const read = () => callWithDeadline((signal) => api.readNamespacedLease({ name, namespace }, signalOptions(signal)));
  const replace = (lease: V1Lease, spec: V1LeaseSpec) =>
    callWithDeadline((signal) =>
      api.replaceNamespacedLease({ name, namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: lease.metadata ?? { name, namespace }, spec } }, signalOptions(signal)),
    );

  function callback(which: 'onStartedLeading' | 'onStoppedLeading'): void | Promise<void> {
    try {
      const result = options[which]();
      if (result instanceof Promise) {
        return result.catch((err: unknown) => log.error({ err: (err as Error)?.message ?? String(err) }, `${which} failed`));
      }
    } catch (err) {
      log.error({ err: (err as Error)?.message ?? String(err) }, `${which} failed`);
    }
  }

  function stopLeading(why: string): void | Promise<void> {
    if (!leading) return;
    leading = false;
    clearTimeout(expiryTimer);
    expiryTimer = undefined;
    log.info({ why }, 'stopped leading');
    return callback('onStoppedLeading');
  }

  /** The Lease was written at or after `startedAt`: no peer may take it over before `startedAt` + duration. */
  function held(lease: V1Lease, startedAt: number): void {
    known = lease;
    observation = observe(observation, leaseRecord(lease, durationSeconds), now());
    const remaining = startedAt + durationMs - now();
    if (remaining <= 0) {
      // The write took longer than the lease lasts: a peer may already have taken over.
      known = undefined;
      void stopLeading('the renewal completed after the lease had expired');
      return;
    }
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => void stopLeading(`not renewed within ${durationSeconds} s`), remaining);
    expiryTimer.unref();
    if (!leading) {
      leading = true;
      log.info({ transitions: lease.spec?.leaseTransitions ?? 0 }, 'started leading');
      callback('onStartedLeading');
    }
  }

  async function tryAcquireOrRenew(): Promise<boolean> {
    const startedAt = now();
    let lease = leading ? known : undefined;
    if (!lease) {
      try {
        lease = await read();
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
        try {
          const created = await callWithDeadline((signal) =>
            api.createNamespacedLease(
              { namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: nextSpec('acquire', undefined, identity, durationSeconds, startedAt) } },
              signalOptions(signal),
            ),
          );
          if (stopped) {
            known = created; // stop() releases it
            return false;
          }
          held(created, startedAt);
          return true;
        } catch (createErr) {
          if (statusOf(createErr) !== 409) throw createErr;
          // Another replica created it first: read what it wrote.
          lease = await read();
        }
      }
      if (stopped) return false;
      observation = observe(observation, leaseRecord(lease, durationSeconds), now());
      const decision = decide(observation, identity, now());
      if (decision.action === 'wait') {
        known = undefined;
        if (leading) await stopLeading(`the lease is held by ${decision.holder}`);
        return false;
      }
    }
    const previous = leaseRecord(lease, durationSeconds);
    try {
      const written = await replace(lease, nextSpec(previous.holderIdentity === identity ? 'renew' : 'acquire', previous, identity, durationSeconds, startedAt));
      if (stopped) {
        known = written; // stop() releases it
        return false;
      }
      held(written, startedAt);
      return true;
    } catch (err) {
      // 409: someone wrote the Lease since it was read; read it again next time.
      known = undefined;
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    attemptTimer = setTimeout(() => {
      attemptTimer = undefined;
      attempt = tryAcquireOrRenew().then(
        (ok) => schedule(ok ? renewIntervalMs : retryIntervalMs),
        (err: unknown) => {
          const error = apiCallError(leading ? 'renewing the leader lease' : 'acquiring the leader lease', err);
          if (leading) log.warn({ err: error.message }, 'leader lease not renewed; retrying');
          else log.debug({ err: error.message }, 'leader lease not acquired; retrying');
          schedule(retryIntervalMs);
        },
      );
    }, delayMs);
    attemptTimer.unref();
  }

  async function release(): Promise<void> {
    for (let pass = 1; pass <= 2; pass++) {
      let lease = known;
      known = undefined;
      try {
        if (!lease) {
          lease = await read();
          if (lease.spec?.holderIdentity !== identity) return;
        }
        await replace(lease, nextSpec('release', leaseRecord(lease, durationSeconds), identity, durationSeconds, now()));
        log.info('released the leader lease');
        return;
      } catch (err) {
        // 409: written since it was last seen; read it again and release it if still ours.
        if (statusOf(err) === 409 && pass < 2) continue;
        log.warn({ err: apiCallError('releasing the leader lease', err).message }, 'leader lease not released; peers take over once it expires');
        return;
      }
    }
  }

  schedule(0);

  return {
    isLeader: () => leading,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearTimeout(attemptTimer);
        attemptTimer = undefined;
        await attempt;
        clearTimeout(attemptTimer);
        attemptTimer = undefined;
        const holding = leading || known?.spec?.holderIdentity === identity;
        await stopLeading('stopping');
        if (holding) await release();
      })();
      return stopping;
    },
  };
}
