import { LineCounter, Schema, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Scalar, type Tags } from 'yaml';
import type { DocumentSource } from './document-splitter.ts';
import { PreviewInputError } from './preview-input-error.ts';

/**
 * kubectl and Helm read manifests with go-yaml's YAML 1.1 rules (sigs.k8s.io/yaml): `yes` and `on`
 * are booleans, `0644` is octal, `<<` merges mappings. go-yaml leaves timestamps and base-60
 * numbers (`12:30`) as strings, so this schema drops those two YAML 1.1 types.
 */
const KUBECTL_SCHEMA = new Schema({
  schema: 'yaml-1.1',
  merge: true,
  customTags: (tags: Tags) =>
    tags.filter((tag) => typeof tag === 'string' || (tag.tag !== 'tag:yaml.org,2002:timestamp' && !('format' in tag && tag.format === 'TIME'))),
});

/**
 * Where in the input: `file: document N (line L, column C)` for a position in the document,
 * `file: document N (starting at line L)` for the document as a whole.
 */
export function locate(name: string, source: DocumentSource, lines?: LineCounter, offset?: number): string {
  const pos = lines && offset !== undefined ? lines.linePos(offset) : undefined;
  const where = pos ? `line ${source.line + pos.line - 1}, column ${pos.col}` : `starting at line ${source.line}`;
  return `${name}: document ${source.index} (${where})`;
}

export interface ParsedManifest {
  doc: Document;
  /** Line starts of the document's text, for messages about its nodes. */
  lines: LineCounter;
}

/**
 * The first mapping key (in document order) that repeats a key of the same mapping, by the yaml
 * package's rule: scalar keys with equal values. Its own check compares each key with every key
 * before it, quadratic in the width of a mapping (5,000 keys took 1.5 s to parse, 20,000 took
 * 17 s), so it is turned off and done here with a set per mapping.
 *
 * Also the first quoted scalar that is never closed: the yaml package reports none for a stream
 * that ends right after an escaped quote (`a: "\"`), which kubectl refuses.
 */
function structuralProblem(root: unknown, text: string): { node: Scalar; message: string } | undefined {
  let first: { node: Scalar; message: string } | undefined;
  const note = (node: Scalar, message: string) => {
    if (first === undefined || (node.range?.[0] ?? 0) < (first.node.range?.[0] ?? 0)) first = { node, message };
  };
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isPair(node)) {
      stack.push(node.key, node.value);
    } else if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        stack.push(pair);
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) note(pair.key, 'Map keys must be unique');
        seen.add(pair.key.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isScalar(node) && node.range && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
      const raw = text.slice(node.range[0], node.range[1]).trimEnd();
      const closed = node.type === 'QUOTE_DOUBLE' ? /^"(?:[^"\\]|\\[\s\S])*"$/.test(raw) : /^'(?:[^']|'')*'$/.test(raw);
      if (!closed) note(node, `Missing closing ${node.type === 'QUOTE_DOUBLE' ? '"' : "'"}quote`);
    }
  }
  return first;
}

/** Parses one document as kubectl would; YAML errors throw a PreviewInputError naming the document and line. */
export function parseManifest(name: string, source: DocumentSource): ParsedManifest {
  const lines = new LineCounter();
  const doc = parseDocument(source.text, { version: '1.1', schema: KUBECTL_SCHEMA, lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const error = doc.errors[0];
  if (error) throw new PreviewInputError(`${locate(name, source, lines, error.pos[0])}: ${error.message.split('\n')[0]}`);
  const problem = structuralProblem(doc.contents, source.text);
  if (problem) throw new PreviewInputError(`${locate(name, source, lines, problem.node.range?.[0])}: ${problem.message}`);
  return { doc, lines };
}
