import { parseAllDocuments, stringify, type Document } from 'yaml';
import type { Operation } from 'fast-json-patch';
import { optedOut } from '../admission/admit.ts';
import { mutatePod, type MutationPolicy } from '../admission/mutate-pod.ts';
import { podPathOf } from '../admission/pod-templates.ts';
import { derivedDockerConfigJsonBase64, pullSecretManifest, type PullSecretSpec } from '../k8s/pull-secret-manifest.ts';
import { getIn } from '../util/is-record.ts';

export interface PreviewOptions {
  policy: MutationPolicy;
  secret: PullSecretSpec;
  isExcludedNamespace(namespace: string): boolean;
  /** Names the input in messages, e.g. a file name or "stdin". */
  source: string;
}

export interface PreviewResult {
  output: string;
  warnings: string[];
  mutated: number;
}

/** Input that is not YAML: the message names the document and its line. */
export class PreviewInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreviewInputError';
  }
}

function unescapeToken(token: string): string | number {
  const text = token.replaceAll('~1', '/').replaceAll('~0', '~');
  return /^(0|[1-9][0-9]*)$/.test(text) ? Number(text) : text;
}

/** Applies add/replace operations to the YAML document in place, so comments and layout survive. */
function applyToDocument(doc: Document, base: readonly string[], patch: Operation[]): void {
  for (const op of patch) {
    const tokens = op.path.split('/').slice(1);
    const path = [...base, ...tokens.map(unescapeToken)];
    const value = (op as { value: unknown }).value;
    if (path.at(-1) === '-') doc.addIn(path.slice(0, -1), doc.createNode(value));
    else doc.setIn(path, doc.createNode(value));
  }
}

function describe(index: number, obj: unknown): string {
  const kind = getIn(obj, ['kind']);
  const name = getIn(obj, ['metadata', 'name']);
  return `document ${index + 1}${typeof kind === 'string' ? ` (${kind}${typeof name === 'string' ? ` ${name}` : ''})` : ''}`;
}

/**
 * The offline twin of admission: applies the CREATE mutation to every Pod and Pod template in a
 * multi-document YAML stream and appends the pull Secret each target namespace would get.
 */
export function previewManifests(text: string, options: PreviewOptions): PreviewResult {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return { output: '', warnings: [], mutated: 0 };
  const warnings: string[] = [];
  const namespaces = new Set<string | undefined>();
  let mutated = 0;
  const out: string[] = [];
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const error = doc.errors[0]!;
      const line = error.linePos?.[0];
      // The parser's first line ends with its own "at line L, column C:"; say it once, our way.
      const reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new PreviewInputError(`${options.source}: document ${index + 1}${line ? ` (line ${line.line}, column ${line.col})` : ''}: ${reason}`);
    }
    const obj: unknown = doc.toJS();
    const podPath = podPathOf(getIn(obj, ['kind']));
    const namespace = getIn(obj, ['metadata', 'namespace']);
    const pod = podPath ? getIn(obj, podPath) : undefined;
    const excluded = typeof namespace === 'string' && options.isExcludedNamespace(namespace);
    if (pod !== undefined && !excluded && !optedOut(pod)) {
      const mutation = mutatePod(pod, 'create', options.policy);
      warnings.push(...mutation.warnings.map((w) => `${describe(index, obj)}: ${w}`));
      if (mutation.patch.length > 0) {
        applyToDocument(doc, podPath!, mutation.patch);
        mutated += 1;
      }
      if (mutation.usesPullSecret) namespaces.add(typeof namespace === 'string' ? namespace : undefined);
    }
    if (obj !== null && obj !== undefined) out.push(doc.toString().replace(/^---\n/, '').trimEnd());
  });
  for (const namespace of namespaces) {
    const secret = pullSecretManifest(options.secret.name, namespace ?? '', derivedDockerConfigJsonBase64(options.secret));
    const { namespace: _omit, ...metadata } = secret.metadata;
    out.push(stringify(namespace === undefined ? { ...secret, metadata } : secret).trimEnd());
  }
  return { output: out.length > 0 ? out.map((d) => `---\n${d}\n`).join('') : '', warnings, mutated };
}

