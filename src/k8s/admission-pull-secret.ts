import type { ClusterState } from './cluster-state.ts';
import type { Credential } from './credential-source.ts';
import { pullSecretManifest } from './pull-secret-manifest.ts';
import { PullSecretError, reconcileSecret, type ReconcileOutcome } from './reconcile-secret.ts';
import type { SecretsApi } from './secrets-api.ts';

export interface AdmissionPullSecretOptions {
  state: ClusterState;
  api: SecretsApi;
  pullSecretName(): string;
  credential(): Credential;
}

/**
 * The pull secret as admission needs it: present before the Pod is admitted. The watch-backed
 * cache answers first, so a namespace whose secret is present and current costs no API request.
 * A missing secret is created here, synchronously (concurrent Pods of a namespace share one
 * attempt; a 409 means another replica was first). A secret that exists but differs is left to
 * the reconciler on the replica holding the lease: replicas that picked up a new license at
 * different moments must not overwrite each other.
 */
export function admissionPullSecret(options: AdmissionPullSecretOptions): (namespace: string) => Promise<ReconcileOutcome> {
  const { state, api } = options;
  const creating = new Map<string, Promise<ReconcileOutcome>>();
  return async (namespace) => {
    const credential = options.credential();
    if ('unavailable' in credential) throw new PullSecretError(credential.unavailable, false);
    const desired = pullSecretManifest(options.pullSecretName(), namespace, credential.dockerConfigJson);
    const observed = state.pullSecret(namespace);
    // Known to the cache: comparing it costs no request (and writes nothing in createOnly mode).
    if (observed) return reconcileSecret(api, desired, observed, { createOnly: true });
    const key = `${namespace}/${desired.data['.dockerconfigjson']}`;
    const running = creating.get(key);
    if (running) return running;
    const attempt = reconcileSecret(api, desired, observed, { createOnly: true }).finally(() => creating.delete(key));
    creating.set(key, attempt);
    return attempt;
  };
}
