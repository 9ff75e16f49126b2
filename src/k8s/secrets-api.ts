import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { signalOptions, type ApiCallBudget } from './api-call-budget.ts';
import { apiCallError, statusOf } from './api-error.ts';

/**
 * The four Secret calls the pull secret reconciler makes. Failures are ApiCallErrors, whose
 * messages name the call, the object, the HTTP status and the Status reason only.
 */
export interface SecretsApi {
  /** undefined when the secret does not exist (404). */
  read(namespace: string, name: string): Promise<V1Secret | undefined>;
  create(namespace: string, body: V1Secret): Promise<V1Secret>;
  /** Conditional on `body.metadata.resourceVersion` when it is set (409 if it changed since). */
  replace(namespace: string, name: string, body: V1Secret): Promise<V1Secret>;
  /** Deletes only the object with this resourceVersion and uid (409 otherwise). */
  delete(namespace: string, name: string, preconditions: { resourceVersion?: string; uid?: string }): Promise<void>;
}

/** SecretsApi over the API server, each call bounded by `budget`. */
export function kubeSecretsApi(core: CoreV1Api, budget: ApiCallBudget): SecretsApi {
  async function call<T>(what: string, request: (options: ReturnType<typeof signalOptions>) => Promise<T>): Promise<T> {
    try {
      return await budget.run((signal) => request(signalOptions(signal)));
    } catch (err) {
      throw apiCallError(what, err);
    }
  }
  return {
    async read(namespace, name) {
      try {
        return await call(`reading secret ${namespace}/${name}`, (options) => core.readNamespacedSecret({ name, namespace }, options));
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    create(namespace, body) {
      return call(`creating secret ${namespace}/${body.metadata?.name ?? ''}`, (options) => core.createNamespacedSecret({ namespace, body }, options));
    },
    replace(namespace, name, body) {
      return call(`replacing secret ${namespace}/${name}`, (options) => core.replaceNamespacedSecret({ name, namespace, body }, options));
    },
    async delete(namespace, name, preconditions) {
      await call(`deleting secret ${namespace}/${name}`, (options) => core.deleteNamespacedSecret({ name, namespace, body: { preconditions } }, options));
    },
  };
}
