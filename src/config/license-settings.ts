// The settings the license defaults (appSlug, proxyDomain, and the pull secret's name from the
// slug), checked once the license is known; recomputed when the license changes.
import { validateAppSlug, validateProxyDomain } from '../image/registry-prefix.ts';
import type { License } from '../license/license.ts';
import { ConfigError } from './config-error.ts';
import { DNS_SUBDOMAIN } from './parsers.ts';
import type { PullgateConfig } from './schema.ts';

/** The proxy when neither the configuration nor the license names one. */
export const DEFAULT_PROXY_DOMAIN = 'proxy.replicated.com';

/** Configuration and license combined: what every admission uses. Recomputed when the license changes. */
export interface EffectiveSettings {
  proxyDomain: string;
  registryDomain: string;
  appSlug: string;
  pullSecretName: string;
}

export type LicenseDefaulted = Pick<PullgateConfig, 'appSlug' | 'proxyDomain' | 'pullSecretName'>;

/** The settings the license defaults, and every problem with what it gave them. */
export function resolveWithLicense(config: LicenseDefaulted, license: License): { settings: Omit<EffectiveSettings, 'registryDomain'>; problems: string[] } {
  const problems: string[] = [];
  const appSlug = config.appSlug ?? license.appSlug;
  if (config.appSlug === undefined) problems.push(...validateAppSlug(appSlug).map((p) => `${p} (taken from the license's spec.appSlug; set appSlug to override)`));
  const proxyDomain = config.proxyDomain ?? license.proxyDomain ?? DEFAULT_PROXY_DOMAIN;
  if (config.proxyDomain === undefined) problems.push(...validateProxyDomain(proxyDomain).map((p) => `${p} (taken from the license's replicatedProxyDomain)`));
  const pullSecretName = config.pullSecretName ?? `${appSlug}-registry`;
  if (config.pullSecretName === undefined && !DNS_SUBDOMAIN.test(pullSecretName)) {
    problems.push(`pullSecret.name: the default "${pullSecretName}" is not a valid Secret name; set pullSecret.name`);
  }
  return { settings: { proxyDomain, appSlug, pullSecretName }, problems };
}

/** Settings that depend on the license; throws ConfigError when the license makes them invalid. */
export function effectiveSettings(config: PullgateConfig, license: License): EffectiveSettings {
  const { settings, problems } = resolveWithLicense(config, license);
  if (problems.length > 0) throw new ConfigError('settings', problems);
  return Object.freeze({ ...settings, registryDomain: config.registryDomain });
}
