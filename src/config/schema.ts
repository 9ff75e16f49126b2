// The configuration file's settings, declared once with their defaults and checks, and the frozen
// PullgateConfig made from them.
import type { RegistryPrefix } from '../image/registry-prefix.ts';
import { validateAppSlug, validateProxyDomain } from '../image/registry-prefix.ts';
import type { License } from '../license/license.ts';
import { isRecord } from '../util/is-record.ts';
import { ConfigError } from './config-error.ts';
import { resolveWithLicense } from './license-settings.ts';
import { additionalNamespaces, excludedNamespaces, labelSelector, namespaceNames, privateRegistries, registryHost, secretName, text } from './parsers.ts';
import { checked, deepFreeze, INVALID, parseTable, section, setting, type Values } from './settings-table.ts';

/** The configuration file, validated and frozen. Values the license may default stay optional here. */
export interface PullgateConfig {
  readonly proxyDomain?: string;
  readonly registryDomain: string;
  readonly appSlug?: string;
  readonly licenseFile: string;
  readonly privateRegistries: readonly RegistryPrefix[];
  readonly pullSecretName?: string;
  /** Set: the pull secrets carry this Secret's `.dockerconfigjson` (in pullgate's namespace) instead of one built from the license. */
  readonly credentials?: { readonly dockerConfigSecret: string };
  readonly namespaces: NamespaceConfig;
}

export interface NamespaceConfig {
  readonly application?: string;
  /** Namespaces served besides the application's; `all` replaces the list when it held "*". */
  readonly additional: readonly string[];
  readonly all: boolean;
  readonly optInLabel: { readonly key: string; readonly value: string };
  /** Never served; kube-system is always in it, pullgate's own namespace is added at start. */
  readonly exclude: readonly string[];
}

export const DEFAULT_REGISTRY_DOMAIN = 'registry.replicated.com';
export const DEFAULT_OPT_IN_LABEL = 'pullgate.dev/inject=enabled';

const SETTINGS = {
  proxyDomain: setting({
    doc: "registry host of the license-gated proxy; default: the license's replicatedProxyDomain, else proxy.replicated.com",
    parse: checked(text, (value) => validateProxyDomain(value)),
  }),
  registryDomain: setting({
    doc: "registry host of the vendor's own registry, whose images are pulled with the license as they are",
    default: DEFAULT_REGISTRY_DOMAIN,
    parse: checked(text, registryHost),
  }),
  appSlug: setting({
    doc: "the application's slug, a path component of every proxied image; default: the license's appSlug",
    // Checked here, not only with the license, so it is reported even when the license cannot be read.
    parse: checked(text, (value) => validateAppSlug(value)),
  }),
  license: section({
    file: setting({ doc: 'path to the License document', required: true, parse: text }),
  }),
  privateRegistries: setting({
    doc: 'a non-empty list of registry hosts or host/path prefixes',
    required: true,
    parse: privateRegistries,
  }),
  pullSecret: section({
    name: setting({ doc: 'name of the pull secret kept in every namespace served; default: <appSlug>-registry', parse: checked(text, secretName) }),
  }),
  credentials: section({
    dockerConfigSecret: setting({
      doc: "name of a kubernetes.io/dockerconfigjson Secret in pullgate's namespace whose .dockerconfigjson every pull secret copies",
      parse: checked(text, secretName),
    }),
  }),
  namespaces: section({
    application: setting({ doc: "the application's namespace", parse: checked(text, (name, at) => namespaceNames([name], at)) }),
    additional: setting({ doc: 'other namespaces served; ["*"] = every namespace', default: [], parse: additionalNamespaces }),
    exclude: setting({ doc: 'namespaces never served; kube-system always is', default: [], parse: excludedNamespaces }),
    optInLabel: setting({ doc: 'key=value label of namespaces that ask to be served', default: DEFAULT_OPT_IN_LABEL, parse: labelSelector }),
  }),
};

function toConfig(v: Values<typeof SETTINGS>): PullgateConfig {
  const { application, additional, exclude, optInLabel } = v.namespaces;
  const all = additional.includes('*');
  return deepFreeze({
    ...(v.proxyDomain !== undefined ? { proxyDomain: v.proxyDomain } : {}),
    registryDomain: v.registryDomain,
    ...(v.appSlug !== undefined ? { appSlug: v.appSlug } : {}),
    licenseFile: v.license.file,
    privateRegistries: v.privateRegistries,
    ...(v.pullSecret.name !== undefined ? { pullSecretName: v.pullSecret.name } : {}),
    ...(v.credentials.dockerConfigSecret !== undefined ? { credentials: { dockerConfigSecret: v.credentials.dockerConfigSecret } } : {}),
    namespaces: { ...(application !== undefined ? { application } : {}), additional: all ? [] : additional, all, optInLabel, exclude },
  });
}

/** A validated configuration, or every problem with it. */
export type ConfigCheck =
  | { readonly ok: true; readonly config: PullgateConfig; readonly problems: readonly [] }
  | { readonly ok: false; readonly config?: undefined; readonly problems: readonly string[] };

/**
 * Validates a parsed configuration document and, given the license, every setting the license
 * defaults. All problems are collected, so a user fixes the file in one round. Never throws.
 */
export function checkConfig(raw: unknown, license?: License): ConfigCheck {
  const { draft, problems } = parseTable(SETTINGS, isRecord(raw) ? raw : {}, '');
  if (!isRecord(raw)) problems.unshift('the configuration must be a YAML mapping');
  const { appSlug, proxyDomain } = draft;
  const pullSecretName = draft.pullSecret.name;
  // Only on settings that parsed: a bad appSlug must not also be reported as a bad default Secret name.
  if (license && appSlug !== INVALID && proxyDomain !== INVALID && pullSecretName !== INVALID) {
    problems.push(...resolveWithLicense({ appSlug, proxyDomain, pullSecretName }, license).problems);
  }
  // Every INVALID in the draft came with a problem: without problems, the draft is complete.
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: toConfig(draft as Values<typeof SETTINGS>), problems: [] };
}

/** As checkConfig, but throws ConfigError listing every problem. */
export function validateConfig(raw: unknown, license?: License): PullgateConfig {
  const checked = checkConfig(raw, license);
  if (!checked.ok) throw new ConfigError('configuration', checked.problems);
  return checked.config;
}
