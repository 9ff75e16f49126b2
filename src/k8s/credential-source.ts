import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { signalOptions } from './api-call-budget.ts';
import { informerCache, type InformerCache } from './informer-cache.ts';

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson';

/** The `.dockerconfigjson` every pull secret holds, base64-encoded as Secret data is. Never log it. */
export type Credential = { readonly dockerConfigJson: string } | { readonly unavailable: string };

/**
 * Where the pull secret's content comes from: derived from the license (the contract's form), or
 * copied as-is from an existing dockerconfigjson Secret in pullgate's own namespace and followed
 * when that Secret changes.
 */
export interface CredentialSource {
  current(): Credential;
  synced(): boolean;
  start(): void;
  stop(): Promise<void>;
}

/** A credential that changes only when pullgate replaces it (a new license). */
export function fixedCredential(dockerConfigJson: string): CredentialSource {
  const credential = Object.freeze({ dockerConfigJson });
  return { current: () => credential, synced: () => true, start() {}, async stop() {} };
}

export interface CopiedCredentialOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  name: string;
  logger: Logger;
  onChange(): void;
}

/** The `.dockerconfigjson` of Secret `namespace/name`, watched by name (RBAC: that one Secret only). */
export function copiedCredential(options: CopiedCredentialOptions): CredentialSource {
  const { namespace, name, core } = options;
  const fieldSelector = `metadata.name=${name}`;
  const cache: InformerCache<V1Secret> = informerCache<V1Secret>({
    kubeConfig: options.kubeConfig,
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
    what: 'credential secret',
    fieldSelector,
    list: (signal) => core.listNamespacedSecret({ namespace, fieldSelector }, signalOptions(signal)),
    onChange: () => options.onChange(),
    // The list's objects fire their change events before the cache counts as synced, while
    // current() still answers "not read yet": the moment it can answer is a change too.
    onSynced: () => options.onChange(),
    logger: options.logger,
  });
  return {
    current() {
      if (!cache.synced()) return { unavailable: `credential secret ${namespace}/${name} not read yet` };
      const secret = cache.get(name, namespace);
      if (!secret) return { unavailable: `credential secret ${namespace}/${name} not found` };
      const data = secret.data?.[DOCKER_CONFIG_JSON_KEY];
      if (secret.type !== DOCKER_CONFIG_JSON_TYPE || typeof data !== 'string' || data === '') {
        return { unavailable: `credential secret ${namespace}/${name} is not of type ${DOCKER_CONFIG_JSON_TYPE} with a ${DOCKER_CONFIG_JSON_KEY} key` };
      }
      return { dockerConfigJson: data };
    },
    synced: () => cache.synced(),
    start: () => cache.start(),
    stop: () => cache.stop(),
  };
}
