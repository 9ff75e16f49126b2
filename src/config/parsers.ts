// The parsers of the settings table: each turns a value from the file into a setting, or problems
// that start with the setting's path.
import { parseRegistryPrefix, type RegistryPrefix } from '../image/registry-prefix.ts';
import { fail, ok, checked, type Parser } from './settings-table.ts';

/** kube-system is never served, whatever the file says. */
const ALWAYS_EXCLUDED = ['kube-system'];

// RFC 1123 label (namespace names) and subdomain (Secret names), as Kubernetes validates them.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$/;

export const text: Parser<string> = (value, at) => (typeof value === 'string' && value.trim() !== '' ? ok(value.trim()) : fail(`${at}: must be a non-empty string`));

export const textList: Parser<readonly string[]> = (value, at) =>
  Array.isArray(value) && value.every((v) => typeof v === 'string' && v.trim() !== '')
    ? ok(value.map((v: string) => v.trim()))
    : fail(`${at}: must be a list of non-empty strings`);

export const registryHost = (value: string, at: string) => (HOST.test(value) ? [] : [`${at}: "${value}" is not a registry host (host[:port], no scheme or path)`]);
export const secretName = (value: string, at: string) => (DNS_SUBDOMAIN.test(value) ? [] : [`${at}: "${value}" is not a valid Secret name`]);
export const namespaceNames = (names: readonly string[], at: string) => names.filter((n) => !DNS_LABEL.test(n)).map((n) => `${at}: "${n}" is not a valid namespace name`);

/** Registry hosts or host/path prefixes; none may be on registryDomain, parsed before. */
export const privateRegistries: Parser<readonly RegistryPrefix[]> = (value, at, earlier) => {
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
export const additionalNamespaces = checked(textList, (names, at) => {
  if (!names.includes('*')) return namespaceNames(names, at);
  return names.length > 1 ? [`${at}: "*" means every namespace and cannot be combined with names`] : [];
});

/** Namespace names, with kube-system always added; none may be served, as application and additional (parsed before) say. */
export const excludedNamespaces: Parser<readonly string[]> = (value, at, earlier) => {
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

export const labelSelector: Parser<{ key: string; value: string }> = (value, at, earlier) => {
  const parsed = text(value, at, earlier);
  if (!parsed.ok) return parsed;
  const eq = parsed.value.indexOf('=');
  const label = { key: parsed.value.slice(0, eq), value: parsed.value.slice(eq + 1) };
  return eq >= 0 && LABEL_KEY.test(label.key) && LABEL_VALUE.test(label.value)
    ? ok(label)
    : fail(`${at}: "${parsed.value}" must be key=value with a valid label key and value`);
};
