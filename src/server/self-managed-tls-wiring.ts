import type { Server } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiCallBudget } from '../k8s/api-call-budget.ts';
import { compareCaSecret, obtainCa, type CaSecretOptions } from '../k8s/ca-secret.ts';
import type { SecretsApi } from '../k8s/secrets-api.ts';
import { caBundleKeeper } from '../k8s/webhook-ca-bundle.ts';
import type { Logger } from '../logger.ts';
import { createCertificateAuthority } from '../tls/certificates.ts';
import { selfManagedTls } from '../tls/self-managed-tls.ts';

export interface SelfManagedTlsSettings {
  selfManaged: {
    /** The CA Secret in pullgate's own namespace. */
    caSecretName: string;
    /** pullgate's own MutatingWebhookConfiguration, whose caBundle it keeps. */
    webhookConfigurationName: string;
    /** DNS names and IP addresses of the serving certificate (the Service's names). */
    sans: string[];
    /** Validity of each serving certificate; renewed at two thirds of it. */
    validityMs: number;
  };
}

/** The CA lives ten years: rotating it is a deliberate act (replace the Secret), never a timer. */
const CA_VALIDITY_DAYS = 3650;

/** Self-managed TLS for `server`: its CA Secret, its serving certificate, its webhook's caBundle. */
export function startSelfManagedTls(o: {
  settings: SelfManagedTlsSettings['selfManaged'];
  server: Server;
  kubeConfig: KubeConfig;
  secretsApi: SecretsApi;
  budget: ApiCallBudget;
  ownNamespace: string;
  logger: Logger;
}): { ready(): boolean; caInWebhook(): boolean; stop(): Promise<void> } {
  const { settings, logger } = o;
  const caSecret: CaSecretOptions = {
    api: o.secretsApi,
    namespace: o.ownNamespace,
    name: settings.caSecretName,
    generate: () => createCertificateAuthority('pullgate-webhook-ca', CA_VALIDITY_DAYS),
    neededForMs: settings.validityMs,
    logger,
  };
  const keeper = caBundleKeeper({ kubeConfig: o.kubeConfig, budget: o.budget, name: settings.webhookConfigurationName, logger });
  const tls = selfManagedTls({
    obtainCa: async () => (await obtainCa(caSecret)).ca,
    checkCa: (current) => compareCaSecret(caSecret, current),
    sans: settings.sans,
    validityMs: settings.validityMs,
    onCertificate: (material) => o.server.setSecureContext({ ...material, minVersion: 'TLSv1.2' }),
    onCa: (caPem) => keeper.setCa(caPem),
    logger,
  });
  keeper.start();
  tls.start();
  return {
    ready: () => tls.ready(),
    caInWebhook: () => keeper.holdsCa(),
    async stop() {
      tls.stop();
      await keeper.stop();
    },
  };
}
