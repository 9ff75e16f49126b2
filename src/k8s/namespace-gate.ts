import type { CoreV1Api } from '@kubernetes/client-node';
import { signalOptions, type ApiCallBudget } from './api-call-budget.ts';
import { FAILURE_MEMORY_MS, MAX_REMEMBERED_FAILURES } from './admission-pull-secret.ts';
import type { ClusterState } from './cluster-state.ts';
import type { NamespaceScope } from './namespace-scope.ts';

export interface NamespaceGateOptions {
  scope: NamespaceScope;
  state: ClusterState;
  core: CoreV1Api;
  budget: ApiCallBudget;
  now?: () => number;
}

/**
 * Answers "does pullgate serve this namespace?" for admission. Names settle most cases without a
 * lookup; labels come from the namespace watch. When the watch says "not served" — or has not seen
 * the namespace yet — the namespace is read once from the API server, because the API server may
 * have seen a new opt-in label before pullgate's watch did, and a Pod it sent here must not be
 * turned away for that. Concurrent reviews for one namespace share one read; a failed read means
 * "not served" (no credential is ever written on a guess), and is remembered for FAILURE_MEMORY_MS.
 */
export function namespaceGate(options: NamespaceGateOptions): (namespace: string) => boolean | Promise<boolean> {
  const { scope, state, core, budget } = options;
  const now = options.now ?? Date.now;
  const reads = new Map<string, Promise<boolean>>();
  // Namespaces whose read failed, until when that answer stands.
  const failed = new Map<string, number>();
  return (namespace) => {
    if (namespace === '' || scope.isExcluded(namespace)) return false;
    if (scope.servedByName(namespace)) return true;
    const cached = state.namespace(namespace);
    if (cached && scope.serves(namespace, cached.labels)) return true;
    const running = reads.get(namespace);
    if (running) return running;
    const until = failed.get(namespace);
    if (until !== undefined) {
      if (until > now()) return false;
      failed.delete(namespace);
    }
    const read = budget
      .run((signal) => core.readNamespace({ name: namespace }, signalOptions(signal)))
      .then(
        (ns) => scope.serves(namespace, ns.metadata?.labels),
        () => {
          // Remembered like a failed pull secret create: a hung API server must not hold every
          // admission in this namespace for the call deadline. Bounded: old entries go first.
          if (failed.size >= MAX_REMEMBERED_FAILURES) failed.delete(failed.keys().next().value!);
          failed.set(namespace, now() + FAILURE_MEMORY_MS);
          return false;
        },
      )
      .finally(() => reads.delete(namespace));
    reads.set(namespace, read);
    return read;
  };
}
