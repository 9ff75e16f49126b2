import type { Logger } from '../logger.ts';
import type { ClusterState } from './cluster-state.ts';
import type { Credential } from './credential-source.ts';
import type { NamespaceScope } from './namespace-scope.ts';
import { pullSecretManifest } from './pull-secret-manifest.ts';
import { PullSecretError, reconcileSecret, type ReconcileOutcome } from './reconcile-secret.ts';
import type { SecretsApi } from './secrets-api.ts';

export type ReconcileResult = ReconcileOutcome | 'error' | 'no-credential';

export interface SecretReconcilerOptions {
  state: ClusterState;
  scope: NamespaceScope;
  api: SecretsApi;
  pullSecretName: string;
  credential(): Credential;
  logger: Logger;
  onResult?(result: ReconcileResult): void;
  /** Namespaces reconciled at the same time. */
  concurrency?: number;
  /** Every namespace is looked at again this often, so a missed event is not fatal. */
  resyncMs?: number;
  /** First and longest pause before a failed namespace is tried again. */
  retryMs?: { first: number; max: number };
}

export interface SecretReconciler {
  /** Look at one namespace soon (a namespace or its secret changed). */
  enqueue(namespace: string): void;
  /** Look at every known namespace soon (the credential changed, leadership was gained). */
  enqueueAll(): void;
  /** Only the replica holding the lease reconciles; others only queue nothing. */
  setActive(active: boolean): void;
  /** Resolves when nothing is queued or running (tests and shutdown). */
  idle(): Promise<void>;
  stop(): void;
}

/**
 * Keeps the pull secret current in every namespace in scope. A work queue of namespace names fed
 * by the watches: a name queued twice is looked at once, a name being worked on is queued again
 * rather than worked on twice at once, and failures are retried with a growing pause. Each look
 * compares the cached secret with the desired one, so a namespace whose secret is current costs
 * no API request at all.
 *
 * A namespace that leaves scope keeps its secret, no longer maintained: Pods already created
 * there reference it and would fail to pull on their next restart or reschedule if it vanished.
 * Removing it is a deliberate step (`kubectl delete secret -l app.kubernetes.io/managed-by=pullgate`).
 */
export function secretReconciler(options: SecretReconcilerOptions): SecretReconciler {
  const { state, scope, api, logger } = options;
  const concurrency = options.concurrency ?? 4;
  const retry = options.retryMs ?? { first: 1_000, max: 60_000 };
  const onResult = options.onResult ?? (() => {});
  const queued = new Set<string>();
  const running = new Set<string>();
  const failures = new Map<string, { attempts: number; timer: NodeJS.Timeout }>();
  let active = false;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];
  let resync: NodeJS.Timeout | undefined;

  const settleIdle = () => {
    if (queued.size > 0 || running.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const pump = () => {
    while (active && !stopped && running.size < concurrency) {
      const next = [...queued].find((ns) => !running.has(ns));
      if (next === undefined) break;
      queued.delete(next);
      running.add(next);
      void work(next).finally(() => {
        running.delete(next);
        pump();
        settleIdle();
      });
    }
    settleIdle();
  };

  const retryLater = (namespace: string) => {
    const previous = failures.get(namespace);
    clearTimeout(previous?.timer);
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay = Math.min(retry.first * 2 ** (attempts - 1), retry.max);
    const timer = setTimeout(() => {
      const entry = failures.get(namespace);
      if (entry?.timer === timer) enqueue(namespace);
    }, delay);
    timer.unref();
    failures.set(namespace, { attempts, timer });
  };

  const forgetFailure = (namespace: string) => {
    const entry = failures.get(namespace);
    if (entry) clearTimeout(entry.timer);
    failures.delete(namespace);
  };

  async function work(namespace: string): Promise<void> {
    const ns = state.namespace(namespace);
    if (!ns || ns.terminating || !scope.serves(namespace, ns.labels)) {
      forgetFailure(namespace);
      return;
    }
    const credential = options.credential();
    if ('unavailable' in credential) {
      // Retried when the credential appears (enqueueAll); nothing to write meanwhile.
      return onResult('no-credential');
    }
    const desired = pullSecretManifest(options.pullSecretName, namespace, credential.dockerConfigJson);
    try {
      const outcome = await reconcileSecret(api, desired, state.pullSecret(namespace));
      forgetFailure(namespace);
      if (outcome !== 'unchanged') logger.info({ namespace, secret: options.pullSecretName, outcome }, 'pull secret reconciled');
      onResult(outcome);
    } catch (err) {
      onResult('error');
      const persistent = err instanceof PullSecretError && err.persistent;
      logger.warn({ namespace, secret: options.pullSecretName, err: (err as Error).message, persistent }, 'pull secret not reconciled');
      // A persistent failure (an unmanaged secret in the way, forbidden) waits for the next change
      // event or resync instead of hammering the API server.
      if (persistent) forgetFailure(namespace);
      else retryLater(namespace);
    }
  }

  function enqueue(namespace: string): void {
    if (stopped || !active) return;
    queued.add(namespace);
    pump();
  }

  function enqueueAll(): void {
    for (const name of state.namespaceNames()) if (active) queued.add(name);
    pump();
  }

  return {
    enqueue,
    enqueueAll,
    setActive(next) {
      if (stopped || next === active) return;
      active = next;
      if (active) {
        enqueueAll();
        const resyncMs = options.resyncMs ?? 5 * 60_000;
        resync = setInterval(enqueueAll, resyncMs);
        resync.unref();
      } else {
        clearInterval(resync);
        queued.clear();
        for (const ns of [...failures.keys()]) forgetFailure(ns);
        settleIdle();
      }
    },
    idle() {
      if (queued.size === 0 && running.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stop() {
      stopped = true;
      active = false;
      clearInterval(resync);
      queued.clear();
      for (const ns of [...failures.keys()]) forgetFailure(ns);
      settleIdle();
    },
  };
}
