// What pullgate's own TypeScript renders for the configuration a chart rendering carries in its
// ConfigMap: the webhook configuration, the RBAC and the write guard the chart must agree with.
import { parse } from 'yaml';
import { effectiveSettings } from '../../../src/config/license-settings.ts';
import { checkConfig, type PullgateConfig } from '../../../src/config/schema.ts';
import { DEFAULT_LEASE_NAME, rbacManifests, writeGuardManifests, type AccessPolicySettings } from '../../../src/k8s/access-policy.ts';
import { namespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../../src/k8s/webhook-configuration.ts';
import { prefilterInput, webhookMatchConditions } from '../../../src/k8s/webhook-match-conditions.ts';
import type { Rendered } from './helm.ts';

export interface Expected {
  /** The configuration as pullgate reads it from the rendered ConfigMap. */
  config: PullgateConfig;
  settings: AccessPolicySettings;
  rbac: ReturnType<typeof rbacManifests>;
  writeGuard: ReturnType<typeof writeGuardManifests>;
  webhook: ReturnType<typeof webhookConfiguration>;
}

/**
 * For a rendering whose objects are named `name` in namespace `namespace`. The configuration must
 * pass pullgate's own validation; the pull secret's name is resolved as pullgate resolves it (a
 * license's appSlug only matters when neither pullSecret.name nor appSlug is set, which the chart
 * refuses).
 */
export function expectedFor(rendered: Rendered, namespace: string, name: string, webhook: { failurePolicy: 'Ignore' | 'Fail'; timeoutSeconds: number }): Expected {
  const checked = checkConfig(parse(rendered.one('ConfigMap', `${name}-config`).data['config.yaml']));
  if (!checked.ok) throw new Error(`the rendered configuration is invalid: ${checked.problems.join('; ')}`);
  const config = checked.config;
  // The License document, when the chart was given it inline (license.value): the prefilter names the proxy domains it may give.
  const licenseSecret = rendered.all('Secret').find((s) => s.metadata.name === `${name}-license`);
  const licenseText = licenseSecret ? Buffer.from(Object.values(licenseSecret.data as Record<string, string>)[0]!, 'base64').toString() : undefined;
  const { pullSecretName } = effectiveSettings(config, { licenseID: 'unused', appSlug: config.appSlug ?? 'licensed-app', customerName: '' });
  // Self-managed TLS is a flag of `serve`: read from the Deployment's arguments, as pullgate reads them.
  const args: string[] = rendered.one('Deployment').spec.template.spec.containers[0].args;
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const settings: AccessPolicySettings = {
    namespace,
    serviceAccount: name,
    pullSecretName,
    leaseName: DEFAULT_LEASE_NAME,
    ...(config.credentials ? { dockerConfigSecret: config.credentials.dockerConfigSecret } : {}),
    ...(flag('--install-guard') !== undefined ? { installGuard: flag('--install-guard')! } : {}),
    ...(flag('--tls') === 'self-managed' ? { selfManagedTls: { caSecretName: flag('--tls-ca-secret') ?? 'pullgate-ca', webhookConfigurationName: flag('--webhook-configuration') ?? 'pullgate' } } : {}),
  };
  return {
    config,
    settings,
    rbac: rbacManifests(settings),
    writeGuard: writeGuardManifests(settings),
    webhook: webhookConfiguration(namespaceScope(config.namespaces, namespace), {
      name,
      clientConfig: { service: { namespace, name, path: '/mutate', port: 443 } },
      ...webhook,
      matchConditions: webhookMatchConditions(prefilterInput(config, licenseText)),
    }),
  };
}
