import type { NamespaceConfig } from '../config/schema.ts';

/** Namespaces pullgate never serves, whatever the configuration says: a restart could wait on itself. */
export const ALWAYS_EXCLUDED_NAMESPACES: readonly string[] = Object.freeze(['kube-system']);

export type NamespaceLabels = Readonly<Record<string, string>> | undefined;

/**
 * Which namespaces pullgate serves: the application namespace, the additional ones (or every
 * namespace for "*"), and any namespace carrying the opt-in label — never an excluded one,
 * kube-system or pullgate's own. The webhook configuration, the admission handler and the
 * reconciler all ask this one object, so the three can never disagree.
 */
export interface NamespaceScope {
  /** Served whatever their labels say (sorted, exclusions removed). */
  readonly configured: readonly string[];
  /** Never served (sorted; kube-system and pullgate's own namespace included). */
  readonly excluded: readonly string[];
  /** Every namespace but the excluded ones is served. */
  readonly all: boolean;
  readonly optInLabel: Readonly<{ key: string; value: string }>;
  readonly ownNamespace: string;
  isExcluded(namespace: string): boolean;
  /** Served by name alone, without looking at labels. */
  servedByName(namespace: string): boolean;
  /** Served, given the namespace's labels. */
  serves(namespace: string, labels: NamespaceLabels): boolean;
}

export function namespaceScope(namespaces: NamespaceConfig, ownNamespace: string): NamespaceScope {
  const excludedSet = new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...namespaces.exclude, ownNamespace]);
  const configuredSet = new Set([...(namespaces.application ? [namespaces.application] : []), ...namespaces.additional].filter((n) => !excludedSet.has(n)));
  const { key, value } = namespaces.optInLabel;
  const all = namespaces.all;
  const servedByName = (namespace: string) => namespace !== '' && !excludedSet.has(namespace) && (all || configuredSet.has(namespace));
  return Object.freeze({
    configured: Object.freeze([...configuredSet].sort()),
    excluded: Object.freeze([...excludedSet].sort()),
    all,
    optInLabel: Object.freeze({ key, value }),
    ownNamespace,
    isExcluded: (namespace: string) => excludedSet.has(namespace),
    servedByName,
    serves: (namespace: string, labels: NamespaceLabels) => servedByName(namespace) || (namespace !== '' && !excludedSet.has(namespace) && labels?.[key] === value),
  });
}
