import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseRegistryPrefix, validateAppSlug, validateProxyDomain, type RegistryPrefix } from './image/registry-prefix.ts';
import { LicenseError, parseLicense, type License } from './license/license.ts';
import { isRecord } from './util/is-record.ts';

/** The configuration file, validated. Values the license may default stay optional here. */
export interface PullgateConfig {
  proxyDomain?: string;
  registryDomain: string;
  appSlug?: string;
  licenseFile: string;
  privateRegistries: readonly RegistryPrefix[];
  pullSecretName?: string;
  namespaces: NamespaceConfig;
}

export interface NamespaceConfig {
  application?: string;
  /** Namespaces served besides the application's; `all` replaces the list when it held "*". */
  additional: readonly string[];
  all: boolean;
  optInLabel: { key: string; value: string };
  /** Never served; kube-system is always in it, pullgate's own namespace is added at start. */
  exclude: readonly string[];
}

/** Configuration and license combined: what every admission uses. Recomputed when the license changes. */
export interface EffectiveSettings {
  proxyDomain: string;
  registryDomain: string;
  appSlug: string;
  pullSecretName: string;
}

export const DEFAULT_PROXY_DOMAIN = 'proxy.replicated.com';
export const DEFAULT_REGISTRY_DOMAIN = 'registry.replicated.com';
export const DEFAULT_OPT_IN_LABEL = 'pullgate.dev/inject=enabled';
const ALWAYS_EXCLUDED = ['kube-system'];

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`${source}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const TOP_LEVEL_KEYS = ['proxyDomain', 'registryDomain', 'appSlug', 'license', 'privateRegistries', 'pullSecret', 'namespaces'];
const NAMESPACE_KEYS = ['application', 'additional', 'optInLabel', 'exclude'];
// RFC 1123 label (namespace names) and subdomain (Secret names), as Kubernetes validates them.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$/;

type Obj = Record<string, unknown>;

function unknownKeys(obj: Obj, allowed: string[], at: string, problems: string[]): void {
  for (const key of Object.keys(obj)) if (!allowed.includes(key)) problems.push(`${at}${key}: unknown setting`);
}

function optionalString(obj: Obj, key: string, at: string, problems: string[]): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${at}${key}: must be a non-empty string`);
    return undefined;
  }
  return value.trim();
}

function stringList(obj: Obj, key: string, at: string, problems: string[]): string[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
    problems.push(`${at}${key}: must be a list of non-empty strings`);
    return [];
  }
  return value.map((v: string) => v.trim());
}

function checkHost(value: string | undefined, at: string, problems: string[]): void {
  if (value !== undefined && !HOST.test(value)) problems.push(`${at}: "${value}" is not a registry host (host[:port], no scheme or path)`);
}

function checkNamespaces(names: string[], at: string, problems: string[]): void {
  for (const name of names) if (!DNS_LABEL.test(name)) problems.push(`${at}: "${name}" is not a valid namespace name`);
}

function parseOptInLabel(text: string, problems: string[]): { key: string; value: string } {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1);
  if (eq < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
    problems.push(`namespaces.optInLabel: "${text}" must be key=value with a valid label key and value`);
  }
  return { key, value };
}

function parseNamespaces(raw: unknown, problems: string[]): NamespaceConfig {
  const obj = raw === undefined || raw === null ? {} : raw;
  if (!isRecord(obj)) {
    problems.push('namespaces: must be a mapping');
    return { additional: [], all: false, optInLabel: parseOptInLabel(DEFAULT_OPT_IN_LABEL, []), exclude: [...ALWAYS_EXCLUDED] };
  }
  unknownKeys(obj, NAMESPACE_KEYS, 'namespaces.', problems);
  const application = optionalString(obj, 'application', 'namespaces.', problems);
  if (application !== undefined) checkNamespaces([application], 'namespaces.application', problems);
  const additional = stringList(obj, 'additional', 'namespaces.', problems);
  const all = additional.includes('*');
  if (all && additional.length > 1) problems.push('namespaces.additional: "*" means every namespace and cannot be combined with names');
  if (!all) checkNamespaces(additional, 'namespaces.additional', problems);
  const exclude = stringList(obj, 'exclude', 'namespaces.', problems);
  checkNamespaces(exclude, 'namespaces.exclude', problems);
  for (const name of [application, ...additional]) {
    if (name !== undefined && (exclude.includes(name) || ALWAYS_EXCLUDED.includes(name))) {
      problems.push(`namespaces: "${name}" is both served and excluded`);
    }
  }
  const optInLabel = parseOptInLabel(optionalString(obj, 'optInLabel', 'namespaces.', problems) ?? DEFAULT_OPT_IN_LABEL, problems);
  return {
    ...(application !== undefined ? { application } : {}),
    additional: all ? [] : additional,
    all,
    optInLabel,
    exclude: [...new Set([...ALWAYS_EXCLUDED, ...exclude])],
  };
}

/**
 * Validates a parsed configuration document and, with the license, every setting the license
 * defaults. All problems are collected, so a user fixes the file in one round.
 */
export function validateConfig(raw: unknown, license: License | undefined, problems: string[] = []): PullgateConfig {
  const obj = isRecord(raw) ? raw : {};
  if (!isRecord(raw)) problems.push('the configuration must be a YAML mapping');
  unknownKeys(obj, TOP_LEVEL_KEYS, '', problems);

  const proxyDomain = optionalString(obj, 'proxyDomain', '', problems);
  if (proxyDomain !== undefined) problems.push(...validateProxyDomain(proxyDomain));
  const registryDomain = optionalString(obj, 'registryDomain', '', problems) ?? DEFAULT_REGISTRY_DOMAIN;
  checkHost(registryDomain, 'registryDomain', problems);
  const appSlug = optionalString(obj, 'appSlug', '', problems);
  // Checked here, not only with the license, so it is reported even when the license cannot be read.
  if (appSlug !== undefined) problems.push(...validateAppSlug(appSlug));

  const licenseObj = obj.license;
  let licenseFile = '';
  if (!isRecord(licenseObj)) problems.push('license.file: required (path to the License document)');
  else {
    unknownKeys(licenseObj, ['file'], 'license.', problems);
    licenseFile = optionalString(licenseObj, 'file', 'license.', problems) ?? '';
    if (licenseFile === '' && licenseObj.file === undefined) problems.push('license.file: required (path to the License document)');
  }

  const entries = obj.privateRegistries;
  const privateRegistries: RegistryPrefix[] = [];
  if (!Array.isArray(entries) || entries.length === 0) {
    problems.push('privateRegistries: required, a non-empty list of registry hosts or host/path prefixes');
  } else {
    entries.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string') return void problems.push(`privateRegistries[${i}]: must be a string`);
      const parsed = parseRegistryPrefix(entry);
      if (!parsed.ok) return void problems.push(...parsed.problems.map((p) => `privateRegistries[${i}] "${entry}": ${p}`));
      if (parsed.prefix.host === registryDomain.toLowerCase()) {
        problems.push(`privateRegistries[${i}] "${entry}": is on registryDomain ${registryDomain}, whose images are pulled directly with the license, never through the proxy`);
      }
      privateRegistries.push(parsed.prefix);
    });
  }

  let pullSecretName: string | undefined;
  if (obj.pullSecret !== undefined && obj.pullSecret !== null) {
    if (!isRecord(obj.pullSecret)) problems.push('pullSecret: must be a mapping');
    else {
      unknownKeys(obj.pullSecret, ['name'], 'pullSecret.', problems);
      pullSecretName = optionalString(obj.pullSecret, 'name', 'pullSecret.', problems);
      if (pullSecretName !== undefined && !DNS_SUBDOMAIN.test(pullSecretName)) {
        problems.push(`pullSecret.name: "${pullSecretName}" is not a valid Secret name`);
      }
    }
  }

  const namespaces = parseNamespaces(obj.namespaces, problems);
  const config: PullgateConfig = {
    ...(proxyDomain !== undefined ? { proxyDomain } : {}),
    registryDomain,
    ...(appSlug !== undefined ? { appSlug } : {}),
    licenseFile,
    privateRegistries,
    ...(pullSecretName !== undefined ? { pullSecretName } : {}),
    namespaces,
  };
  if (license) effectiveSettings(config, license, problems);
  return config;
}

/** Settings that depend on the license; problems are appended when given, thrown otherwise. */
export function effectiveSettings(config: PullgateConfig, license: License, problems?: string[]): EffectiveSettings {
  const local: string[] = [];
  const appSlug = config.appSlug ?? license.appSlug;
  if (config.appSlug === undefined) local.push(...validateAppSlug(appSlug).map((p) => `${p} (taken from the license's spec.appSlug; set appSlug to override)`));
  const proxyDomain = config.proxyDomain ?? license.proxyDomain ?? DEFAULT_PROXY_DOMAIN;
  if (config.proxyDomain === undefined) local.push(...validateProxyDomain(proxyDomain).map((p) => `${p} (taken from the license's replicatedProxyDomain)`));
  const pullSecretName = config.pullSecretName ?? `${appSlug}-registry`;
  if (config.pullSecretName === undefined && !DNS_SUBDOMAIN.test(pullSecretName)) {
    local.push(`pullSecret.name: the default "${pullSecretName}" is not a valid Secret name; set pullSecret.name`);
  }
  if (local.length > 0) {
    if (!problems) throw new ConfigError('settings', local);
    problems.push(...local);
  }
  return Object.freeze({ proxyDomain, registryDomain: config.registryDomain, appSlug, pullSecretName });
}

export interface LoadedConfig {
  config: PullgateConfig;
  license: License;
  settings: EffectiveSettings;
}

/** Reads and validates the configuration file and the license it names; throws ConfigError listing every problem. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const licensePath = isRecord(raw) && isRecord(raw.license) && typeof raw.license.file === 'string' ? raw.license.file : undefined;
  let license: License | undefined;
  if (licensePath) {
    try {
      license = parseLicense(await readFile(licensePath, 'utf8'));
    } catch (err) {
      if (err instanceof LicenseError) problems.push(...err.problems.map((p) => `license.file "${licensePath}": ${p}`));
      else problems.push(`license.file "${licensePath}": cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const config = validateConfig(raw, license, problems);
  if (problems.length > 0 || !license) throw new ConfigError(path, problems);
  return Object.freeze({ config: Object.freeze(config), license, settings: effectiveSettings(config, license) });
}
