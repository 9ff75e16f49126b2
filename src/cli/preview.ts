import { isMap, isScalar, stringify, type Document } from 'yaml';
import type { Operation } from 'fast-json-patch';
import { optedOut } from '../admission/admit.ts';
import { mutatePod, type MutationPolicy } from '../admission/mutate-pod.ts';
import { podPathOf } from '../admission/pod-templates.ts';
import { derivedDockerConfigJsonBase64, pullSecretManifest, type PullSecretSpec } from '../k8s/pull-secret-manifest.ts';
import { getIn } from '../util/is-record.ts';
import { DocumentSplitter, type DocumentSource } from './document-splitter.ts';
import { locate, parseManifest } from './manifest-yaml.ts';
import { PreviewInputError } from './preview-input-error.ts';
import { AliasError, resolveAliases, unshare, type AliasUse } from './resolve-aliases.ts';

export { PreviewInputError } from './preview-input-error.ts';

/**
 * How many nodes a document's aliases may add when they are resolved. Generous for anchors used
 * as templates (500 merges of a 20-key map add 10,000), small enough that an alias bomb is refused
 * before anything is expanded: past it, the document is an input error.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

export interface PreviewOptions {
  policy: MutationPolicy;
  secret: PullSecretSpec;
  isExcludedNamespace(namespace: string): boolean;
  /** Names the input in messages, e.g. a file name or "stdin". */
  source: string;
}

/** Output for one input document (empty when it is empty), or the Secrets at the end. */
export interface PreviewOutput {
  text: string;
  warnings: string[];
}

const NO_ALIASES: AliasUse = { aliases: 0, mergeKeys: 0 };

/**
 * How a rewritten document is written again. No line width: the yaml package would otherwise break
 * a long flow collection onto lines of its own, each nesting level indented one step further, and
 * a deeply nested one grows with the square of its depth (100 levels: 275 bytes in, 27 KB out).
 */
const TO_STRING = { lineWidth: 0 } as const;

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
  return `document ${index}${typeof kind === 'string' ? ` (${kind}${typeof name === 'string' ? ` ${name}` : ''})` : ''}`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * The offline twin of admission, one document at a time: applies the CREATE mutation to every Pod
 * and Pod template of a multi-document YAML stream and, at the end, gives the pull Secret each
 * target namespace would get.
 *
 * Documents it leaves alone are written exactly as read. A rewritten document keeps its comments
 * and layout; if it uses aliases or merge keys, they are written expanded (each alias replaced by a
 * copy of what it names, each `<<` by the pairs it merges, no anchors): what kubectl reads from it,
 * with each copy free to be rewritten on its own.
 */
export class ManifestPreview {
  readonly #options: PreviewOptions;
  readonly #namespaces = new Set<string | undefined>();
  #written = false;

  constructor(options: PreviewOptions) {
    this.#options = options;
  }

  document(source: DocumentSource): PreviewOutput {
    try {
      const output = this.#document(source);
      if (output.text) this.#written = true;
      return output;
    } catch (err) {
      if (err instanceof PreviewInputError) throw err;
      // Whatever else the YAML library refuses (nesting too deep for the stack, say) is still
      // input that cannot be previewed, and is reported as such.
      throw new PreviewInputError(`${locate(this.#options.source, source)}: ${(err as Error).message}`);
    }
  }

  /** The pull Secrets the previewed workloads would get, one per namespace. */
  secrets(): string {
    let out = '';
    for (const namespace of this.#namespaces) {
      const secret = pullSecretManifest(this.#options.secret.name, namespace ?? '', derivedDockerConfigJsonBase64(this.#options.secret));
      const { namespace: _omit, ...metadata } = secret.metadata;
      out += `---\n${stringify(namespace === undefined ? { ...secret, metadata } : secret)}`;
    }
    return out;
  }

  #document(source: DocumentSource): PreviewOutput {
    const { doc, lines } = parseManifest(this.#options.source, source);
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) return { text: '', warnings: [] };
    // An alias needs a `*`, a merge key a `<<`: most documents have neither and skip the walk.
    let aliases = NO_ALIASES;
    if (source.text.includes('*') || source.text.includes('<<')) {
      try {
        aliases = resolveAliases(doc, MAX_ALIAS_EXPANSION);
      } catch (err) {
        if (err instanceof AliasError) throw new PreviewInputError(`${locate(this.#options.source, source, lines, err.offset)}: ${err.message}`);
        throw err;
      }
    }
    const podPath = podPathOf(isMap(contents) ? contents.get('kind') : undefined);
    if (!podPath) return { text: this.#unchanged(source), warnings: [] };

    // No alias is left to resolve: 0 makes any that were a failure rather than a cost.
    const obj: unknown = doc.toJS({ maxAliasCount: 0 });
    const namespace = getIn(obj, ['metadata', 'namespace']);
    const pod = getIn(obj, podPath);
    const excluded = typeof namespace === 'string' && this.#options.isExcludedNamespace(namespace);
    if (pod === undefined || excluded || optedOut(pod)) return { text: this.#unchanged(source), warnings: [] };
    const mutation = mutatePod(pod, 'create', this.#options.policy);
    const warnings = mutation.warnings.map((w) => `${describe(source.index, obj)}: ${w}`);
    if (mutation.usesPullSecret) this.#namespaces.add(typeof namespace === 'string' ? namespace : undefined);
    if (mutation.patch.length === 0) return { text: this.#unchanged(source), warnings };
    if (aliases.aliases > 0 || aliases.mergeKeys > 0) unshare(doc);
    applyToDocument(doc, podPath, mutation.patch);
    // Directives go out with their document, after a `...` that makes them legal mid-stream.
    if (source.directives) return { text: `${this.#written ? '...\n' : ''}${withNewline(doc.toString(TO_STRING))}`, warnings };
    return { text: `---\n${withNewline(doc.toString({ ...TO_STRING, directives: false }))}`, warnings };
  }

  /** The document as read, with a `---` line of its own. */
  #unchanged(source: DocumentSource): string {
    const text = withNewline(source.text);
    if (source.directives) return this.#written ? `...\n${text}` : text;
    return source.explicitStart ? text : `---\n${text}`;
  }
}

/**
 * Previews a stream of YAML text chunks: yields each document's output as soon as it is complete,
 * then the Secrets. Holds one document at a time. Input that is not YAML throws a
 * PreviewInputError naming the document; errors reading `chunks` pass through as they are.
 */
export async function* previewStream(chunks: AsyncIterable<string>, options: PreviewOptions): AsyncGenerator<PreviewOutput> {
  const splitter = new DocumentSplitter();
  const preview = new ManifestPreview(options);
  for await (const chunk of chunks) {
    for (const source of splitter.push(chunk)) yield preview.document(source);
  }
  for (const source of splitter.end()) yield preview.document(source);
  yield { text: preview.secrets(), warnings: [] };
}
