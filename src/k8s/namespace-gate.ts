import type { CoreV1Api } from '@kubernetes/client-node';
import { signalOptions, type ApiCallBudget } from './api-call-budget.ts';
import type { ClusterState } from './cluster-state.ts';
import type { NamespaceScope } from './namespace-scope.ts';

export interface NamespaceGateOptions {
  scope: NamespaceScope;
  state: ClusterState;
  core: CoreV1Api;
  budget: ApiCallBudget;
}

/**
 * Answers "does pullgate serve this namespace?" for admission. Names settle most cases without a
 * lookup; labels come from the namespace watch. When the watch says "not served" — or has not seen
 * the namespace yet — the namespace is read once from the API server, because the API server may
 * have seen a new opt-in label before pullgate's watch did, and a Pod it sent here must not be
 * turned away for that. Concurrent reviews for one namespace share one read; a failed read means
 * "not served": no credential is ever written on a guess.
 */
export function namespaceGate(options: NamespaceGateOptions): (namespace: string) => boolean | Promise<boolean> {
  const { scope, state, core, budget } = options;
  const reads = new Map<string, Promise<boolean>>();
  return (namespace) => {
    if (namespace === '' || scope.isExcluded(namespace)) return false;
    if (scope.servedByName(namespace)) return true;
    const cached = state.namespace(namespace);
    if (cached && scope.serves(namespace, cached.labels)) return true;
    const running = reads.get(namespace);
    if (running) return running;
    const read = budget
      .run((signal) => core.readNamespace({ name: namespace }, signalOptions(signal)))
      .then(
        (ns) => scope.serves(namespace, ns.metadata?.labels),
        () => false,
      )
      .finally(() => reads.delete(namespace));
    reads.set(namespace, read);
    return read;
  };
}
