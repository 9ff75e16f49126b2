import type { CoreV1Api, KubeConfig, V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { signalOptions } from './api-call-budget.ts';
import { informerCache, type InformerCache } from './informer-cache.ts';
import type { NamespaceLabels } from './namespace-scope.ts';

/** What pullgate knows of the cluster, kept current by watches: namespaces, and its pull secrets. */
export interface ClusterState {
  /** Both caches have completed their first list. */
  synced(): boolean;
  /** The namespace's labels; undefined when the namespace is not (yet) in the cache. */
  namespace(name: string): { labels: NamespaceLabels; terminating: boolean } | undefined;
  namespaceNames(): string[];
  /**
   * The pull secret in `namespace`: the Secret, `null` when the synced cache holds none, or
   * `undefined` while the cache has not synced (unknown).
   */
  pullSecret(namespace: string): V1Secret | null | undefined;
  start(): void;
  stop(): Promise<void>;
}

export interface ClusterStateOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  pullSecretName: string;
  logger: Logger;
  onNamespaceChange(name: string): void;
  onPullSecretChange(namespace: string): void;
  /** Called once, when both caches have completed their first list. */
  onSynced?(): void;
}

/**
 * Two watches: every Namespace (names and labels), and the pull secret by name in every namespace
 * — a `metadata.name` field selector, which RBAC authorises with `resourceNames`, so pullgate can
 * list and watch this one Secret name and still read no other Secret.
 */
export function clusterState(options: ClusterStateOptions): ClusterState {
  const { kubeConfig, core, pullSecretName, logger } = options;
  const fieldSelector = `metadata.name=${pullSecretName}`;
  const onSynced = () => {
    if (namespaces.synced() && secrets.synced()) options.onSynced?.();
  };
  const namespaces: InformerCache<V1Namespace> = informerCache<V1Namespace>({
    kubeConfig,
    path: '/api/v1/namespaces',
    what: 'namespaces',
    list: (signal) => core.listNamespace({}, signalOptions(signal)),
    onChange: (ns) => {
      if (ns.metadata?.name) options.onNamespaceChange(ns.metadata.name);
    },
    onSynced,
    logger,
  });
  const secrets: InformerCache<V1Secret> = informerCache<V1Secret>({
    kubeConfig,
    path: '/api/v1/secrets',
    what: 'pull secrets',
    fieldSelector,
    list: (signal) => core.listSecretForAllNamespaces({ fieldSelector }, signalOptions(signal)),
    onChange: (secret) => {
      if (secret.metadata?.namespace) options.onPullSecretChange(secret.metadata.namespace);
    },
    onSynced,
    logger,
  });
  return {
    synced: () => namespaces.synced() && secrets.synced(),
    namespace(name) {
      const ns = namespaces.get(name);
      if (!ns) return undefined;
      return { labels: ns.metadata?.labels, terminating: ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp !== undefined };
    },
    namespaceNames: () => namespaces.list().flatMap((ns) => (ns.metadata?.name ? [ns.metadata.name] : [])),
    pullSecret(namespace) {
      if (!secrets.synced()) return undefined;
      return secrets.get(pullSecretName, namespace) ?? null;
    },
    start() {
      namespaces.start();
      secrets.start();
    },
    async stop() {
      await Promise.all([namespaces.stop(), secrets.stop()]);
    },
  };
}
