// The bound on Kubernetes API calls: refused past the limit, aborted at the deadline, counted
// until they really end; and, against a stub API server that never answers, a real CoreV1Api call
// given signalOptions() rejects at the deadline and closes its connection.
import type { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiCallBudget, signalOptions } from '../../../src/k8s/api-call-budget.ts';
import { ApiCallError } from '../../../src/k8s/api-error.ts';
import { withDeadline } from '../../../src/util/with-deadline.ts';
import type { KubeStub } from '../helpers/kube-stub.ts';
import { startStubClient, type StubClient } from '../helpers/stub-client.ts';

// Key generation and TLS handshakes, on a busy machine.
vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function rejection(promise: Promise<unknown>): Promise<ApiCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiCallError);
  return err as ApiCallError;
}

describe('ApiCallBudget', () => {
  it('refuses a call past maxInFlight at once, without calling it, and accepts again once one settles', async () => {
    const changes: number[] = [];
    const budget = new ApiCallBudget({ maxInFlight: 2, deadlineMs: 60_000, onInFlightChange: (n) => changes.push(n) });
    const first = deferred<string>();
    const second = deferred<string>();
    const a = budget.run(() => first.promise);
    const b = budget.run(() => second.promise);
    expect(budget.inFlight).toBe(2);

    let called = false;
    const refused = await rejection(
      budget.run(async () => {
        called = true;
        return 'x';
      }),
    );
    expect(called).toBe(false);
    expect(refused.kind).toBe('saturated');
    expect(refused.status).toBeUndefined();
    expect(refused.message).toBe('not sent: API calls in flight at the limit (2)');

    first.resolve('one');
    await expect(a).resolves.toBe('one');
    expect(budget.inFlight).toBe(1);
    await expect(budget.run(async () => 'three')).resolves.toBe('three');
    second.reject(new Error('boom'));
    await expect(b).rejects.toThrow('boom');
    expect(budget.inFlight).toBe(0);
    expect(changes).toEqual([1, 2, 1, 2, 1, 0]);
  });

  it('aborts the signal at the deadline and rejects with a timeout, whatever the aborted call rejects with', async () => {
    vi.useFakeTimers();
    try {
      const budget = new ApiCallBudget({ maxInFlight: 4, deadlineMs: 1_000 });
      let seen: AbortSignal | undefined;
      const call = budget.run(
        (signal) =>
          new Promise<never>((_, reject) => {
            seen = signal;
            signal.addEventListener('abort', () => reject(new Error('the client says: aborted')));
          }),
      );
      const settled = rejection(call);
      await vi.advanceTimersByTimeAsync(999);
      expect(seen!.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(seen!.aborted).toBe(true);
      const err = await settled;
      expect(err.kind).toBe('timeout');
      expect(err.message).toBe('no answer within 1000 ms');
      expect(seen!.reason).toBe(err);
      expect(budget.inFlight).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes a per-call deadline, and a call that answers in time is not aborted later', async () => {
    vi.useFakeTimers();
    try {
      const budget = new ApiCallBudget({ maxInFlight: 4, deadlineMs: 60_000 });
      let quick: AbortSignal | undefined;
      await expect(
        budget.run(async (signal) => {
          quick = signal;
          return 'fast';
        }),
      ).resolves.toBe('fast');
      await vi.advanceTimersByTimeAsync(120_000);
      expect(quick!.aborted).toBe(false);

      const short = rejection(budget.run((signal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), 50));
      await vi.advanceTimersByTimeAsync(50);
      expect((await short).message).toBe('no answer within 50 ms');
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps counting a call that ignores its signal until it really ends, so saturation still holds', async () => {
    vi.useFakeTimers();
    try {
      const budget = new ApiCallBudget({ maxInFlight: 1, deadlineMs: 100 });
      const stubborn = deferred<string>();
      const call = rejection(budget.run(() => stubborn.promise));
      await vi.advanceTimersByTimeAsync(100);
      expect((await call).kind).toBe('timeout');
      expect(budget.inFlight).toBe(1);
      expect((await rejection(budget.run(async () => 'next'))).kind).toBe('saturated');
      stubborn.resolve('late');
      await vi.advanceTimersByTimeAsync(0);
      expect(budget.inFlight).toBe(0);
      await expect(budget.run(async () => 'next')).resolves.toBe('next');
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a call that throws synchronously as settled', async () => {
    const budget = new ApiCallBudget({ maxInFlight: 1, deadlineMs: 1_000 });
    await expect(
      budget.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(budget.inFlight).toBe(0);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new ApiCallBudget({ maxInFlight: 0, deadlineMs: 1 })).toThrow(RangeError);
    expect(() => new ApiCallBudget({ maxInFlight: 1.5, deadlineMs: 1 })).toThrow(RangeError);
    expect(() => new ApiCallBudget({ maxInFlight: 1, deadlineMs: 0 })).toThrow(RangeError);
    expect(() => new ApiCallBudget({ maxInFlight: 1, deadlineMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('signalOptions with a real CoreV1Api', () => {
  let client: StubClient;
  let stub: KubeStub;
  let core: CoreV1Api;

  beforeAll(async () => {
    client = await startStubClient();
    ({ stub, core } = client);
  });
  afterAll(() => client.close());

  it('leaves an answered call working', async () => {
    stub.secrets.set('team-a/s', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'team-a' } });
    const budget = new ApiCallBudget({ maxInFlight: 2, deadlineMs: 10_000 });
    const secret = await budget.run((signal) => core.readNamespacedSecret({ name: 's', namespace: 'team-a' }, signalOptions(signal)));
    expect(secret.metadata?.name).toBe('s');
    expect(budget.inFlight).toBe(0);
  });

  it('against an API server that accepts and never answers: rejects at the deadline and closes the connection', async () => {
    stub.intercept = () => 'hang';
    try {
      const deadlineMs = 1_500;
      const budget = new ApiCallBudget({ maxInFlight: 2, deadlineMs });
      const started = performance.now();
      const err = await rejection(budget.run((signal) => core.readNamespacedSecret({ name: 'x', namespace: 'hung' }, signalOptions(signal))));
      const elapsed = performance.now() - started;
      expect(err.kind).toBe('timeout');
      expect(elapsed).toBeGreaterThanOrEqual(deadlineMs - 5);
      expect(elapsed).toBeLessThan(deadlineMs + 5_000);

      // The request did reach the server, and the client closed its connection: nothing is left
      // behind per hung call. Without the signal the client would hold it for minutes.
      expect(stub.hung.map((h) => h.call.namespace)).toEqual(['hung']);
      await withDeadline(stub.hung[0]!.closed, 10_000, 'the connection of the aborted call is still open');
      // The client's own promise ended too: the count is back to zero.
      await vi.waitFor(() => expect(budget.inFlight).toBe(0), { timeout: 10_000, interval: 20 });
    } finally {
      delete stub.intercept;
    }
  });
});
