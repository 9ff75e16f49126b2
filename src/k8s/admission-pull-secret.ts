import type { ClusterState } from './cluster-state.ts';
import type { Credential } from './credential-source.ts';
import { pullSecretManifest, type PullSecretManifest } from './pull-secret-manifest.ts';
import { outcomeWithoutWrite, PullSecretError, reconcileSecret, type ReconcileOutcome } from './reconcile-secret.ts';
import type { SecretsApi } from './secrets-api.ts';

/**
 * How long a failed attempt to create a namespace's pull secret is remembered. Meanwhile admissions
 * there answer at once with that failure (a hung API server would otherwise hold each of them for
 * the whole API call deadline); the first one after it tries again.
 */
export const FAILURE_MEMORY_MS = 5_000;
/** Namespaces whose failure is remembered at most; past it the expired ones are dropped. */
export const MAX_REMEMBERED_FAILURES = 1_000;

export type EnsureResult = ReconcileOutcome | 'error';

export interface AdmissionPullSecretOptions {
  state: ClusterState;
  api: SecretsApi;
  pullSecretName(): string;
  credential(): Credential;
  /** Called once per call with its result (metrics, the log line of a created secret). */
  onResult?(namespace: string, result: EnsureResult): void;
  now?: () => number;
}

/**
 * The pull secret as admission needs it: present before the Pod is admitted. The watch-backed
 * cache answers first, so a namespace whose secret is present and current costs no API request and
 * is answered synchronously (no promise, no timer). A missing secret is created here (concurrent
 * Pods of a namespace share one attempt; a 409 means another replica was first); a failed attempt
 * is remembered for FAILURE_MEMORY_MS (see there). A secret that exists but differs is left to the
 * reconciler on the replica holding the lease: replicas that picked up a new license at different
 * moments must not overwrite each other. Throws, or rejects, with a PullSecretError.
 */
export function admissionPullSecret(options: AdmissionPullSecretOptions): (namespace: string) => ReconcileOutcome | Promise<ReconcileOutcome> {
  const { state, api } = options;
  const now = options.now ?? Date.now;
  const report = options.onResult ?? (() => {});
  const creating = new Map<string, Promise<ReconcileOutcome>>();
  const failed = new Map<string, { error: unknown; until: number }>();
  // The desired Secret of each namespace, built once per credential and name.
  let manifests = new Map<string, PullSecretManifest>();
  let manifestsOf = { name: '', data: '' };

  const desiredIn = (namespace: string, name: string, data: string): PullSecretManifest => {
    if (manifestsOf.name !== name || manifestsOf.data !== data) {
      manifests = new Map();
      manifestsOf = { name, data };
    }
    let desired = manifests.get(namespace);
    if (!desired) {
      desired = pullSecretManifest(name, namespace, data);
      manifests.set(namespace, desired);
    }
    return desired;
  };

  const remember = (namespace: string, error: unknown): void => {
    if (failed.size >= MAX_REMEMBERED_FAILURES) {
      const t = now();
      for (const [ns, f] of failed) if (f.until <= t) failed.delete(ns);
    }
    failed.set(namespace, { error, until: now() + FAILURE_MEMORY_MS });
  };

  const ensure = (namespace: string): ReconcileOutcome | Promise<ReconcileOutcome> => {
    const credential = options.credential();
    if ('unavailable' in credential) throw new PullSecretError(credential.unavailable, false);
    const desired = desiredIn(namespace, options.pullSecretName(), credential.dockerConfigJson);
    const observed = state.pullSecret(namespace);
    // Known to the cache with its version: comparing it costs no request (createOnly writes nothing).
    if (observed?.metadata?.resourceVersion) {
      if (failed.size > 0) failed.delete(namespace);
      return outcomeWithoutWrite(observed, desired, true)!;
    }
    const key = `${namespace}/${desired.data['.dockerconfigjson']}`;
    const running = creating.get(key);
    const failure = failed.get(namespace);
    // A failure is remembered until it expires and, after that, until the next attempt settles.
    if (failure && (failure.until > now() || running)) throw failure.error;
    if (running) return running;
    const attempt = reconcileSecret(api, desired, observed, { createOnly: true }).then(
      (outcome) => {
        failed.delete(namespace);
        return outcome;
      },
      (err: unknown) => {
        remember(namespace, err);
        throw err;
      },
    );
    const tracked = attempt.finally(() => creating.delete(key));
    creating.set(key, tracked);
    return tracked;
  };

  return (namespace) => {
    let result: ReconcileOutcome | Promise<ReconcileOutcome>;
    try {
      result = ensure(namespace);
    } catch (err) {
      report(namespace, 'error');
      throw err;
    }
    if (!(result instanceof Promise)) {
      report(namespace, result);
      return result;
    }
    return result.then(
      (outcome) => {
        report(namespace, outcome);
        return outcome;
      },
      (err: unknown) => {
        report(namespace, 'error');
        throw err;
      },
    );
  };
}
