import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseRegistryPrefix, validateAppSlug, validateProxyDomain, type RegistryPrefix } from './image/registry-prefix.ts';
import { LicenseError, parseLicense, type License } from './license/license.ts';
import { getIn, isRecord } from './util/is-record.ts';

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
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// RFC 1123 label (namespace names) and subdomain (Secret names), as Kubernetes validates them.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$/;

// ---- The settings table: how a setting is declared, parsed and defaulted --------------------------

/** A parsed value, or every problem with it (at least one). */
type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly [string, ...string[]] };
/** The settings of the same mapping parsed so far, by key: for the few rules that span settings. */
type Earlier = Readonly<Record<string, unknown>>;
/** Parses a value present in the file; `at` is its dotted path, which every problem starts with. */
type Parser<T> = (value: unknown, at: string, earlier: Earlier) => Parsed<T>;

interface Setting<T> {
  /** What the setting holds; the message for a missing required setting quotes it. */
  readonly doc: string;
  /** Used, and parsed like a written value, when the setting is absent (or null). */
  readonly default?: unknown;
  /** Absent with no default: a problem, instead of an undefined value. */
  readonly required?: boolean;
  readonly parse: Parser<T>;
}

/** A nested mapping of settings; absent means every setting in it is absent. */
interface Section<S extends Table> {
  readonly section: S;
}

interface Table {
  readonly [key: string]: Setting<unknown> | Section<Table>;
}

/** The parsed settings of a table, once valid. */
type Values<S extends Table> = {
  readonly [K in keyof S]: S[K] extends Section<infer I extends Table> ? Values<I> : S[K] extends Setting<infer T> ? T : never;
};

/** Marks a setting that did not parse in a draft, so rules that read it pass over it. */
const INVALID: unique symbol = Symbol('invalid');

/** The parsed settings of a table, some possibly INVALID. */
type Draft<S extends Table> = {
  readonly [K in keyof S]: S[K] extends Section<infer I extends Table> ? Draft<I> : S[K] extends Setting<infer T> ? T | typeof INVALID : never;
};

function setting<T>(spec: { doc: string; parse: Parser<T>; default: unknown } | { doc: string; parse: Parser<T>; required: true }): Setting<T>;
function setting<T>(spec: { doc: string; parse: Parser<T> }): Setting<T | undefined>;
function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

function section<S extends Table>(settings: S): Section<S> {
  return { section: settings };
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (problem: string, ...more: string[]): Parsed<never> => ({ ok: false, problems: [problem, ...more] });

/** `parser`, then `check` on what it parsed: problems, or none to accept it as is. */
function checked<T>(parser: Parser<T>, check: (value: T, at: string, earlier: Earlier) => readonly string[]): Parser<T> {
  return (value, at, earlier) => {
    const parsed = parser(value, at, earlier);
    if (!parsed.ok) return parsed;
    const [problem, ...more] = check(parsed.value, at, earlier);
    return problem === undefined ? parsed : fail(problem, ...more);
  };
}

/** Parses every setting of `table` in `obj`, in table order; unknown keys come first. Never throws. */
function parseTable<S extends Table>(table: S, obj: Readonly<Record<string, unknown>>, at: string): { draft: Draft<S>; problems: string[] } {
  const path = (key: string) => (at === '' ? key : `${at}.${key}`);
  // hasOwn, not `in`: a key such as "constructor" is no setting.
  const problems = Object.keys(obj)
    .filter((key) => !Object.hasOwn(table, key))
    .map((key) => `${path(key)}: unknown setting`);
  const draft: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
    const absent = value === undefined || value === null;
    if ('section' in entry) {
      if (!absent && !isRecord(value)) problems.push(`${path(key)}: must be a mapping`);
      const inner = parseTable(entry.section, isRecord(value) ? value : {}, path(key));
      draft[key] = inner.draft;
      problems.push(...inner.problems);
      continue;
    }
    const given = absent ? entry.default : value;
    if (given === undefined) {
      if (entry.required) problems.push(`${path(key)}: required (${entry.doc})`);
      draft[key] = entry.required ? INVALID : undefined;
      continue;
    }
    const parsed = entry.parse(given, path(key), draft);
    draft[key] = parsed.ok ? parsed.value : INVALID;
    if (!parsed.ok) problems.push(...parsed.problems);
  }
  return { draft: draft as Draft<S>, problems };
}

// ---- Parsers ------------------------------------------------------------------------------------

const text: Parser<string> = (value, at) => (typeof value === 'string' && value.trim() !== '' ? ok(value.trim()) : fail(`${at}: must be a non-empty string`));

const textList: Parser<readonly string[]> = (value, at) =>
  Array.isArray(value) && value.every((v) => typeof v === 'string' && v.trim() !== '')
    ? ok(value.map((v: string) => v.trim()))
    : fail(`${at}: must be a list of non-empty strings`);

const registryHost = (value: string, at: string) => (HOST.test(value) ? [] : [`${at}: "${value}" is not a registry host (host[:port], no scheme or path)`]);
const secretName = (value: string, at: string) => (DNS_SUBDOMAIN.test(value) ? [] : [`${at}: "${value}" is not a valid Secret name`]);
const namespaceNames = (names: readonly string[], at: string) => names.filter((n) => !DNS_LABEL.test(n)).map((n) => `${at}: "${n}" is not a valid namespace name`);

/** Registry hosts or host/path prefixes; none may be on registryDomain, parsed before. */
const privateRegistries: Parser<readonly RegistryPrefix[]> = (value, at, earlier) => {
  if (!Array.isArray(value) || value.length === 0) return fail(`${at}: must be a non-empty list of registry hosts or host/path prefixes`);
  const registryDomain = typeof earlier.registryDomain === 'string' ? earlier.registryDomain : undefined;
  const problems: string[] = [];
  const prefixes: RegistryPrefix[] = [];
  value.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string') return void problems.push(`${at}[${i}]: must be a string`);
    const parsed = parseRegistryPrefix(entry);
    if (!parsed.ok) return void problems.push(...parsed.problems.map((p) => `${at}[${i}] "${entry}": ${p}`));
    if (parsed.prefix.host === registryDomain?.toLowerCase()) {
      problems.push(`${at}[${i}] "${entry}": is on registryDomain ${registryDomain}, whose images are pulled directly with the license, never through the proxy`);
    }
    prefixes.push(parsed.prefix);
  });
  const [problem, ...more] = problems;
  return problem === undefined ? ok(prefixes) : fail(problem, ...more);
};

/** Namespace names, or ["*"] for every namespace. */
const additionalNamespaces = checked(textList, (names, at) => {
  if (!names.includes('*')) return namespaceNames(names, at);
  return names.length > 1 ? [`${at}: "*" means every namespace and cannot be combined with names`] : [];
});

/** Namespace names, with kube-system always added; none may be served, as application and additional (parsed before) say. */
const excludedNamespaces: Parser<readonly string[]> = (value, at, earlier) => {
  const names = textList(value, at, earlier);
  if (!names.ok) return names;
  const excluded = [...new Set([...ALWAYS_EXCLUDED, ...names.value])];
  const served = [earlier.application, ...(Array.isArray(earlier.additional) ? earlier.additional : [])].filter((n): n is string => typeof n === 'string');
  const [problem, ...more] = [
    ...namespaceNames(names.value, at),
    ...served.filter((name) => excluded.includes(name)).map((name) => `namespaces: "${name}" is both served and excluded`),
  ];
  return problem === undefined ? ok(excluded) : fail(problem, ...more);
};

const labelSelector: Parser<{ key: string; value: string }> = (value, at, earlier) => {
  const parsed = text(value, at, earlier);
  if (!parsed.ok) return parsed;
  const eq = parsed.value.indexOf('=');
  const label = { key: parsed.value.slice(0, eq), value: parsed.value.slice(eq + 1) };
  return eq >= 0 && LABEL_KEY.test(label.key) && LABEL_VALUE.test(label.value)
    ? ok(label)
    : fail(`${at}: "${parsed.value}" must be key=value with a valid label key and value`);
};

// ---- The settings -------------------------------------------------------------------------------

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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

// ---- Validation ---------------------------------------------------------------------------------

type LicenseDefaulted = Pick<PullgateConfig, 'appSlug' | 'proxyDomain' | 'pullSecretName'>;

/** The settings the license defaults, and every problem with what it gave them. */
function resolveWithLicense(config: LicenseDefaulted, license: License): { settings: Omit<EffectiveSettings, 'registryDomain'>; problems: string[] } {
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

/** Settings that depend on the license; throws ConfigError when the license makes them invalid. */
export function effectiveSettings(config: PullgateConfig, license: License): EffectiveSettings {
  const { settings, problems } = resolveWithLicense(config, license);
  if (problems.length > 0) throw new ConfigError('settings', problems);
  return Object.freeze({ ...settings, registryDomain: config.registryDomain });
}

export interface LoadedConfig {
  config: PullgateConfig;
  license: License;
  settings: EffectiveSettings;
}

async function readLicense(path: string): Promise<{ license?: License; problems: string[] }> {
  try {
    return { license: parseLicense(await readFile(path, 'utf8')), problems: [] };
  } catch (err) {
    if (err instanceof LicenseError) return { problems: err.problems.map((p) => `license.file "${path}": ${p}`) };
    return { problems: [`license.file "${path}": cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`] };
  }
}

/** Reads and validates the configuration file and the license it names; throws ConfigError listing every problem. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  // The license is read even when the rest of the file is wrong, so its problems are listed too.
  const licenseFile = getIn(raw, ['license', 'file']);
  const read = typeof licenseFile === 'string' && licenseFile.trim() !== '' ? await readLicense(licenseFile.trim()) : { problems: [] };
  const checked = checkConfig(raw, read.license);
  const problems = [...read.problems, ...checked.problems];
  if (!checked.ok || !read.license || problems.length > 0) throw new ConfigError(path, problems);
  return Object.freeze({ config: checked.config, license: read.license, settings: effectiveSettings(checked.config, read.license) });
}
