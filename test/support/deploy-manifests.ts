import type { NamespaceConfig } from '../../src/config.ts';
import { webhookConfiguration } from '../../src/k8s/webhook-configuration.ts';

/** The webhook configuration shipped in deploy/: Service pullgate/pullgate, CA injected by cert-manager. */
export function webhookConfigurationForService(namespaces: NamespaceConfig) {
  const configuration = webhookConfiguration(namespaces, {
    ownNamespace: 'pullgate',
    clientConfig: { service: { namespace: 'pullgate', name: 'pullgate', path: '/mutate', port: 443 } },
  });
  return {
    ...configuration,
    metadata: { ...configuration.metadata, annotations: { 'cert-manager.io/inject-ca-from': 'pullgate/pullgate-tls' } },
  };
}
