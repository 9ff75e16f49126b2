import { Pair, isAlias, isCollection, isMap, isPair, isScalar, isSeq, type Document, type Node, type YAMLMap } from 'yaml';

/** An alias that cannot be resolved, or resolves to too much; `offset` is where in the document. */
export class AliasError extends Error {
  readonly offset: number | undefined;
  constructor(message: string, offset: number | undefined) {
    super(message);
    this.name = 'AliasError';
    this.offset = offset;
  }
}

export interface AliasUse {
  /** Aliases replaced by the node they name. */
  aliases: number;
  /** `<<` merge keys (merged when the document is converted to JavaScript). */
  mergeKeys: number;
}

/**
 * Replaces each alias in a parsed document by the node its anchor names, once it is known that
 * this adds at most `maxAddedNodes` nodes to the document (counting each alias as the size of what
 * it names, aliases inside included). The document then shares nodes: it is for `toJS`, which
 * copies them, and no longer for `toString`.
 *
 * One walk in document order, so linear in the document. The yaml package's own resolution scans
 * the document's anchors for every alias (quadratic: 16,000 aliases took 12 s) and its guard
 * counts alias uses rather than the size they expand to.
 */
export function resolveAliases(doc: Document, maxAddedNodes: number): AliasUse {
  const anchors = new Map<string, Node>();
  /** Expanded size of each anchored node, once walked. */
  const sizes = new Map<Node, number>();
  /** Anchored nodes being walked: an alias to one of them would make the document infinite. */
  const open = new Set<Node>();
  const use: AliasUse = { aliases: 0, mergeKeys: 0 };
  let sourceNodes = 0;

  /** Resolves `value` if it is an alias; returns what stands in its place and its expanded size. */
  const slot = (value: unknown): [unknown, number] => {
    if (isAlias(value)) {
      const target = anchors.get(value.source);
      if (!target) throw new AliasError(`alias *${value.source} has no anchor before it`, value.range?.[0]);
      if (open.has(target)) throw new AliasError(`alias *${value.source} is inside the node it names`, value.range?.[0]);
      use.aliases += 1;
      return [target, sizes.get(target)!];
    }
    return [value, walk(value)];
  };

  const walk = (value: unknown): number => {
    if (isPair(value)) {
      if (isScalar(value.key) && typeof value.key.value === 'symbol') use.mergeKeys += 1;
      const [key, keySize] = slot(value.key);
      const [item, itemSize] = slot(value.value);
      value.key = key;
      value.value = item;
      return keySize + itemSize;
    }
    if (!isScalar(value) && !isCollection(value)) return 0;
    sourceNodes += 1;
    if (value.anchor) {
      anchors.set(value.anchor, value);
      open.add(value);
    }
    let size = 1;
    if (isCollection(value)) {
      const items = value.items as unknown[];
      for (let i = 0; i < items.length; i++) {
        const [item, itemSize] = slot(items[i]);
        items[i] = item;
        size += itemSize;
      }
    }
    if (value.anchor) {
      open.delete(value);
      sizes.set(value, size);
    }
    return size;
  };

  // A document that is a bare alias has no anchor before it: slot() refuses it.
  const expanded = slot(doc.contents)[1];
  if (expanded - sourceNodes > maxAddedNodes) {
    throw new AliasError(`its aliases would expand it by more than ${maxAddedNodes} nodes (an alias bomb?); not resolved`, undefined);
  }
  return use;
}

const isMergeKey = (key: unknown): boolean => isScalar(key) && typeof key.value === 'symbol';

/** A mapping key as a JavaScript object key, the way the yaml package converts it; other keys never match. */
const keyOf = (key: unknown): unknown => (isScalar(key) ? (key.value === null ? '' : String(key.value)) : key);

/** A copy of a collection with these items, keeping its style and comments, without its anchor. */
function withItems<T extends Node & { items: unknown[] }>(node: T, items: unknown[]): T {
  const copy = Object.create(Object.getPrototypeOf(node), Object.getOwnPropertyDescriptors(node)) as T;
  copy.items = items;
  copy.anchor = undefined;
  return copy;
}

/**
 * Makes a document that resolveAliases() has run on a tree again, to be edited at any path and
 * written back: each collection an alias had put in several places is copied into each, `<<` merge
 * keys are replaced by the pairs they merge (the yaml package's rules: a key of the mapping itself
 * wins, then the first source that has it), and anchors are dropped. Styles and comments stay.
 * Linear in the expanded document, which resolveAliases() has bounded.
 */
export function unshare(doc: Document): void {
  const copy = (value: unknown): unknown => {
    if (isScalar(value)) {
      // Scalars are replaced, never changed, by edits: one node can stand in several places.
      value.anchor = undefined;
      return value;
    }
    if (isSeq(value)) return withItems(value, value.items.map(copy));
    if (isPair(value)) return new Pair(copy(value.key), copy(value.value));
    if (isMap(value)) return withItems(value, merged(value));
    return value;
  };
  const merged = (map: YAMLMap): unknown[] => {
    const pairs = new Map<unknown, unknown>();
    for (const pair of map.items) {
      if (!isMergeKey(pair.key)) {
        // Set again after a merge gave it: the key keeps its place, the mapping's own value wins.
        pairs.set(keyOf(pair.key), copy(pair));
        continue;
      }
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        if (!isMap(source)) continue; // toJS() has already refused these
        for (const item of merged(source)) {
          const key = keyOf((item as Pair).key);
          if (!pairs.has(key)) pairs.set(key, item);
        }
      }
    }
    return [...pairs.values()];
  };
  doc.contents = copy(doc.contents) as Document['contents'];
}
