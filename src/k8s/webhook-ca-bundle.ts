import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { signalOptions, type ApiCallBudget } from './api-call-budget.ts';
import { apiCallError, statusOf } from './api-error.ts';
import { informerCache } from './informer-cache.ts';

/**
 * The configuration with `caBundle` (base64 PEM) on every webhook entry, or undefined when every
 * entry holds it already: an unchanged configuration is never written.
 */
export function withCaBundle(configuration: V1MutatingWebhookConfiguration, caBundle: string): V1MutatingWebhookConfiguration | undefined {
  const webhooks = configuration.webhooks ?? [];
  if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return undefined;
  return { ...configuration, webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } })) };
}

export interface CaBundleKeeperOptions {
  kubeConfig: KubeConfig;
  budget: ApiCallBudget;
  /** The MutatingWebhookConfiguration to keep, by name: pullgate's own, and no other. */
  name: string;
  logger: Logger;
  /** How often the cached configuration is checked even without a watch event. */
  resyncMs?: number;
}

export interface CaBundleKeeper {
  /** The CA (PEM) every webhook entry must carry; written at once if the configuration differs. */
  setCa(caPem: string): void;
  /** Whether the configuration was last seen holding that CA in every webhook entry (written or found). */
  holdsCa(): boolean;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Keeps the CA in the caBundle of pullgate's own MutatingWebhookConfiguration. It watches that one
 * object (a metadata.name field selector, which RBAC authorizes by resourceNames) and puts the CA
 * back whenever something resets it — a Helm upgrade, a GitOps sync, a hand edit. Every replica
 * does this with the same CA: an update is conditional on the resourceVersion it read, so a
 * replica that loses to another (409) waits for the watch to bring the newer object and finds
 * nothing left to do. A timed recheck covers a watch event that never came.
 */
export function caBundleKeeper(options: CaBundleKeeperOptions): CaBundleKeeper {
  const { name, logger, budget } = options;
  const api = options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  let caBundle: string | undefined;
  let running = false;
  let again = false;
  let resync: NodeJS.Timeout | undefined;
  let missingLogged = false;
  let holds = false;

  const cache = informerCache<V1MutatingWebhookConfiguration>({
    kubeConfig: options.kubeConfig,
    path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    what: 'webhook configuration',
    fieldSelector: `metadata.name=${name}`,
    list: (signal) => api.listMutatingWebhookConfiguration({ fieldSelector: `metadata.name=${name}` }, signalOptions(signal)),
    onChange: () => reconcile(),
    onSynced: () => reconcile(),
    logger,
  });

  async function pass(): Promise<void> {
    if (caBundle === undefined || !cache.synced()) return;
    const current = cache.get(name);
    if (!current) {
      holds = false;
      if (!missingLogged) logger.warn({ webhookConfiguration: name }, 'webhook configuration not found; its caBundle is set once it exists');
      missingLogged = true;
      return;
    }
    missingLogged = false;
    const updated = withCaBundle(current, caBundle);
    holds = updated === undefined;
    if (!updated) return;
    try {
      // replace carries the cached resourceVersion: it fails with 409 if the object changed since.
      await budget.run((signal) => api.replaceMutatingWebhookConfiguration({ name, body: updated }, signalOptions(signal)));
      holds = true;
      logger.info({ webhookConfiguration: name, webhooks: updated.webhooks?.length ?? 0 }, 'caBundle set on the webhook configuration');
    } catch (err) {
      if (statusOf(err) === 409) return; // The watch brings the newer object, and with it another pass.
      logger.error({ webhookConfiguration: name, err: apiCallError(`updating webhook configuration ${name}`, err).message }, 'cannot set the caBundle; retrying at the next check');
    }
  }

  /** One pass at a time; a change during a pass runs one more after it. */
  function reconcile(): void {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void pass().finally(() => {
      running = false;
      if (again) {
        again = false;
        reconcile();
      }
    });
  }

  return {
    setCa(caPem) {
      const next = Buffer.from(caPem).toString('base64');
      if (next !== caBundle) holds = false;
      caBundle = next;
      reconcile();
    },
    holdsCa: () => holds,
    start() {
      cache.start();
      resync = setInterval(reconcile, options.resyncMs ?? 60_000);
      resync.unref();
    },
    async stop() {
      clearInterval(resync);
      await cache.stop();
    },
  };
}
