import type { EffectiveSettings } from '../config/license-settings.ts';
import type { PullgateConfig } from '../config/schema.ts';
import type { PullSecretSpec } from '../k8s/pull-secret-manifest.ts';
import type { License } from '../license/license.ts';
import type { MutationPolicy } from './mutate-pod.ts';

export function mutationPolicy(config: PullgateConfig, settings: EffectiveSettings): MutationPolicy {
  return Object.freeze({
    rewrite: Object.freeze({ proxyDomain: settings.proxyDomain, appSlug: settings.appSlug, privateRegistries: config.privateRegistries }),
    registryDomain: settings.registryDomain,
    pullSecretName: settings.pullSecretName,
  });
}

export function pullSecretSpec(settings: EffectiveSettings, license: License): PullSecretSpec {
  return {
    name: settings.pullSecretName,
    proxyDomain: settings.proxyDomain,
    registryDomain: settings.registryDomain,
    licenseID: license.licenseID,
  };
}
