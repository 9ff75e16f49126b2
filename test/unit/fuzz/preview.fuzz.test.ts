// `preview` (previewStream, what `pullgate preview` runs) under generated YAML streams: manifests
// of every Pod-bearing kind and others with any image strings, anchors, aliases and merge keys,
// directives, noise, truncations and deep nesting, fed in arbitrary chunks. It either writes every
// document — the same number, plus the pull Secrets, documents it does not rewrite as they were and
// rewritten ones changed only in images, the pull secret reference and pullgate's annotation — or
// stops with a PreviewInputError (exit 2) naming the document; never anything else, never slowly,
// and the same whatever the chunks.
import fc from 'fast-check';
import { isScalar, parseAllDocuments, Schema, type Tags } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { podPathOf } from '../../../src/admission/pod-templates.ts';
import { PreviewInputError, previewStream, type PreviewOptions } from '../../../src/cli/preview.ts';
import { rewriteImage } from '../../../src/image/rewrite.ts';
import { getIn, isRecord } from '../../../src/util/is-record.ts';
import { POLICY } from '../admission/policy-fixture.ts';
import { AUTH, LICENSE_ID } from '../helpers/fixtures.ts';
import { budget, imageString, loneSurrogate, noisyString } from './support.ts';

const SOURCE = 'fuzz.yaml';
const OPTIONS: PreviewOptions = {
  policy: POLICY,
  secret: { name: POLICY.pullSecretName, proxyDomain: 'proxy.example.com', registryDomain: 'registry.example.com', licenseID: LICENSE_ID },
  isExcludedNamespace: (ns) => ns === 'kube-system' || ns === 'pullgate',
  source: SOURCE,
};
/** Longest one preview of these inputs (at most a few hundred KiB) may take on a loaded machine. */
const PREVIEW_DEADLINE_MS = 5_000;
/**
 * Output is in proportion to input: each document at most this many times its size (a rewrite adds
 * a prefix to each image, their originals in the annotation, a pull secret reference), plus the
 * Secrets and a margin for each document.
 */
const OUTPUT_GROWTH = 4;
const OUTPUT_SLACK_PER_DOCUMENT = 1024;
const ANNOTATION = 'pullgate.dev/original-images';

/** YAML as kubectl reads it (YAML 1.1, merge keys, no timestamps): the reading the output is judged by. */
const KUBECTL_SCHEMA = new Schema({
  schema: 'yaml-1.1',
  merge: true,
  customTags: (tags: Tags) => tags.filter((tag) => typeof tag === 'string' || (tag.tag !== 'tag:yaml.org,2002:timestamp' && !('format' in tag && tag.format === 'TIME'))),
});

// ---------------------------------------------------------------------------------------------
// Generated streams

/** A YAML double-quoted scalar: JSON's escapes are YAML's, lone surrogates included. */
const quoted = (text: string) => JSON.stringify(text);
const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const namespaceLine = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('my-app', 'monitoring', 'other').map((ns) => `namespace: ${ns}`) },
  { weight: 1, arbitrary: fc.constantFrom('namespace: kube-system', 'namespace: 42', 'namespace: ~', '') },
);
const POD_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'PodTemplate'] as const;
/** Where each kind's Pod begins, as text: the lines before `metadata:`/`spec:` of the Pod and their indentation. */
const POD_PREFIX: Record<(typeof POD_KINDS)[number], { before: string; indent: string }> = {
  Pod: { before: '', indent: '' },
  Deployment: { before: 'spec:\n  replicas: 1\n  template:\n', indent: '    ' },
  StatefulSet: { before: 'spec:\n  serviceName: s\n  template:\n', indent: '    ' },
  DaemonSet: { before: 'spec:\n  template:\n', indent: '    ' },
  ReplicaSet: { before: 'spec:\n  template:\n', indent: '    ' },
  ReplicationController: { before: 'spec:\n  template:\n', indent: '    ' },
  Job: { before: 'spec:\n  backoffLimit: 0\n  template:\n', indent: '    ' },
  CronJob: { before: 'spec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n      template:\n', indent: '        ' },
  PodTemplate: { before: 'template:\n', indent: '  ' },
};

interface ContainerText {
  name: string;
  image: string;
  /** Written as a flow mapping rather than a block one. */
  flow: boolean;
}
const containerText = fc.record({ name: dnsName, image: imageString, flow: fc.boolean() });

function containerLines(c: ContainerText, indent: string): string {
  return c.flow ? `${indent}- {name: ${c.name}, image: ${quoted(c.image)}}\n` : `${indent}- name: ${c.name}\n${indent}  image: ${quoted(c.image)}\n${indent}  args: ["--flag", 'on', yes]\n`;
}

/** The Pod part (metadata and spec), with the features that make YAML interesting chosen at random. */
const podBody = fc.record({
  containers: fc.array(containerText, { minLength: 1, maxLength: 3 }),
  initContainers: fc.array(containerText, { maxLength: 2 }),
  volumeImage: fc.option(imageString, { freq: 3 }),
  annotations: fc.constantFrom('', 'annotations: {a: b}', 'annotations: {}', `annotations: {${ANNOTATION}: '{"containers/old":"quay.io/acme/old:1"}'}`, 'annotations: ~'),
  labels: fc.constantFrom('labels: {app: web}', 'labels: {pullgate.dev/inject: disabled}', ''),
  pullSecrets: fc.constantFrom('', 'imagePullSecrets: [{name: a}]', 'imagePullSecrets: [{name: my-app-registry}]', 'imagePullSecrets: ~'),
  /** Anchor the containers and alias them as the init containers; merge a base into a container. */
  aliasContainers: fc.boolean(),
  mergeBase: fc.option(imageString, { freq: 4 }),
  comment: fc.boolean(),
  metadataFlow: fc.boolean(),
});

type PodBody = typeof podBody extends fc.Arbitrary<infer T> ? T : never;

function podText(body: PodBody, indent: string, metadataName: string, namespace: string): string {
  const i = indent;
  let out = '';
  const meta = [namespace, body.labels, body.annotations].filter((l) => l !== '');
  if (body.metadataFlow) out += `${i}metadata: {name: ${metadataName}${meta.map((m) => `, ${m}`).join('')}}\n`;
  else out += `${i}metadata:\n${i}  name: ${metadataName}\n${meta.map((m) => `${i}  ${m}\n`).join('')}`;
  out += `${i}spec:${body.comment ? '   # the Pod spec' : ''}\n`;
  out += `${i}  containers:${body.aliasContainers ? ' &cs' : ''}\n`;
  for (const c of body.containers) out += containerLines(c, `${i}    `);
  if (body.mergeBase !== null) {
    out += `${i}    - &base\n${i}      name: base\n${i}      image: ${quoted(body.mergeBase)}\n`;
    out += `${i}    - <<: *base\n${i}      name: merged\n`;
  }
  if (body.aliasContainers) out += `${i}  initContainers: *cs\n`;
  else if (body.initContainers.length > 0) {
    out += `${i}  initContainers:\n`;
    for (const c of body.initContainers) out += containerLines(c, `${i}    `);
  }
  if (body.volumeImage !== null) out += `${i}  volumes:\n${i}    - name: v\n${i}      image: {reference: ${quoted(body.volumeImage)}, pullPolicy: IfNotPresent}\n`;
  if (body.pullSecrets) out += `${i}  ${body.pullSecrets}\n`;
  return out;
}

const podDocument = fc
  .record({ kind: fc.constantFrom(...POD_KINDS), name: dnsName, namespace: namespaceLine, body: podBody })
  .map(({ kind, name, namespace, body }) => {
    const { before, indent } = POD_PREFIX[kind];
    if (kind === 'Pod') return `apiVersion: v1\nkind: Pod\n${podText(body, '', name, namespace)}`;
    const apiVersion = kind === 'ReplicationController' || kind === 'PodTemplate' ? 'v1' : kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
    return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${namespace ? `  ${namespace}\n` : ''}${before}${podText(body, indent, `${name}-pod`, '')}`;
  });

/** Documents preview must pass through as they are, Pod-like ones of other kinds included. */
const otherDocument = fc.oneof(
  fc.tuple(dnsName, fc.dictionary(dnsName, noisyString(30), { maxKeys: 4 })).map(([name, data]) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: my-app}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${quoted(v)}\n`).join('')}`),
  fc.tuple(dnsName, imageString).map(([name, image]) => `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}, namespace: my-app}\nspec:\n  template:\n    spec:\n      containers: [{name: w, image: ${quoted(image)}}]\n`),
  fc.tuple(dnsName, imageString).map(([name, image]) => `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: ${name}}\n    spec: {containers: [{name: c, image: ${quoted(image)}}]}\n`),
  dnsName.map((name) => `# a Service\napiVersion: v1\nkind: Service\nmetadata: &m {name: ${name}, namespace: my-app}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n  selector: {app: *m}\nstatus: {on: yes, at: 2001-12-14, mode: 0644, n: 1_000}\n`),
  fc.constantFrom('~\n', 'null\n', '# only a comment\n', '', 'just a string\n', '[1, 2, 3]\n', '!!binary aGVsbG8=\n', '? [a, b]\n: c\n'),
);

const document = fc.oneof({ weight: 3, arbitrary: podDocument }, { weight: 2, arbitrary: otherDocument });

/** How one document is introduced: `---` (with or without a comment), `...` before it, a directive. */
const separator = fc.constantFrom('---\n', '---\n', '--- # next\n', '...\n---\n', '...\n%YAML 1.1\n---\n', '\n---\n');

/** A stream of generated documents, each introduced by a separator (the first one sometimes not). */
const stream = fc
  .tuple(fc.array(fc.tuple(separator, document), { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean())
  .map(([docs, bareFirst, bom]) => (bom ? '\ufeff' : '') + docs.map(([sep, doc], i) => (i === 0 && bareFirst ? '' : sep) + (doc.endsWith('\n') || doc === '' ? doc : `${doc}\n`)).join(''));

/** YAML tokens, markers and characters that make parsers work: for noise. */
const yamlToken = fc.oneof(
  fc.constantFrom(': ', '- ', '-', '&a ', '*a', '<<: ', '{', '}', '[', ']', ',', '---\n', '...\n', '%YAML 1.1\n', '%TAG ! tag:x,2000:\n', '!!str ', '!x ', '|\n', '>-\n', '# c\n', '"', "'", '\t', '\n', '  ', '? ', 'kind: Pod\n', 'image: ', 'quay.io/acme/web:1', 'containers:', 'spec:\n'),
  noisyString(6),
  loneSurrogate,
);
/**
 * Two characters the yaml package the output is judged with reads unlike YAML, kubectl and
 * preview: a lone carriage return (a line break, read as content) and a byte order mark after the
 * start (content inside a document, read as a document prefix). Inputs here have neither, so the
 * two readings agree.
 */
const withoutLoneCR = (text: string) => text.replace(/\r(?!\n)/g, '\r\n').replace(/(?!^)\ufeff/g, '');
const noise = fc.array(yamlToken, { maxLength: 60 }).map((tokens) => withoutLoneCR(tokens.join('')));

/** A valid stream cut short, or with one character changed. */
const damaged = fc.oneof(
  fc.tuple(stream, fc.nat()).map(([text, at]) => text.slice(0, at % (text.length + 1))),
  fc.tuple(stream, fc.nat(), yamlToken).map(([text, at, token]) => {
    const i = at % (text.length + 1);
    return withoutLoneCR(text.slice(0, i) + token + text.slice(i + 1));
  }),
);

/** Inputs that are costly by construction: deep nesting, alias bombs, wide mappings. */
const heavy = fc.oneof(
  // Either well within what the parser follows or far past it: near the limit, whether it gets
  // through depends on how much of the parser V8 has compiled, and the chunked run would differ.
  fc.constantFrom(100, 20_000, 50_000).map((depth) => `kind: Pod\nspec:\n  containers: [{name: c, image: quay.io/acme/web:1}]\n  x: ${'['.repeat(depth)}${']'.repeat(depth)}\n`),
  fc.constantFrom(100, 20_000).map((depth) => `kind: ConfigMap\ndata: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`),
  fc.integer({ min: 3, max: 9 }).map((levels) => {
    const lines = ['    a0: &a0 [quay.io/acme/web:1, x, x, x, x, x, x, x, x]'];
    for (let l = 1; l < levels; l++) lines.push(`    a${l}: &a${l} [${Array(9).fill(`*a${l - 1}`).join(', ')}]`);
    return `apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\nspec:\n  containers: [{name: c, image: quay.io/acme/web:1}]\n  x:\n${lines.join('\n')}\n`;
  }),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => `kind: ConfigMap\ndata:\n${Array.from({ length: n }, (_, k) => `  k${k}: v`).join('\n')}\n`),
);

/** Cut points for feeding a text in chunks. */
const cuts = fc.array(fc.nat(), { maxLength: 8 });

function chunked(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  return [0, ...points].map((from, i) => text.slice(from, [...points, text.length][i]));
}

// ---------------------------------------------------------------------------------------------
// Running and judging

interface Outcome {
  text: string;
  warnings: string[];
  error?: unknown;
  ms: number;
}

async function* fromChunks(chunks: string[]): AsyncGenerator<string> {
  for (const chunk of chunks) yield chunk;
}

async function preview(chunks: string[]): Promise<Outcome> {
  const started = performance.now();
  let text = '';
  const warnings: string[] = [];
  try {
    for await (const output of previewStream(fromChunks(chunks), OPTIONS)) {
      text += output.text;
      warnings.push(...output.warnings);
    }
    return { text, warnings, ms: performance.now() - started };
  } catch (error) {
    return { text, warnings, error, ms: performance.now() - started };
  }
}

function parseStream(text: string) {
  return parseAllDocuments(text, { version: '1.1', schema: KUBECTL_SCHEMA, uniqueKeys: false });
}

/** The documents preview writes for: all but the empty ones (a `---` alone, `~`). */
function contentDocuments(text: string): Array<{ toJS(options?: object): unknown; errors: unknown[] }> {
  const docs = parseStream(text);
  if (!Array.isArray(docs)) return [];
  return docs.filter((d) => d.contents !== null && !(isScalar(d.contents) && d.contents.value === null));
}

function toJS(doc: { toJS(options?: object): unknown }): unknown {
  return doc.toJS({ maxAliasCount: -1 });
}

function attempt<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch {
    return undefined;
  }
}

/** Sets `after[key]` back to `before[key]`, or removes it where `before` had none. */
function restore(after: Record<string, unknown>, before: unknown, key: string): void {
  if (isRecord(before) && Object.hasOwn(before, key)) after[key] = before[key];
  else delete after[key];
}

/**
 * The Pod of a Pod-bearing document with what preview may change put back as it was in `before`:
 * each image (checked to be the original or its rewrite), the pull secret reference added, the
 * original-images annotation. Whatever else differs then shows in a comparison.
 */
function undoMutation(after: Record<string, any>, before: Record<string, any>): number {
  let rewritten = 0;
  for (const location of ['containers', 'initContainers', 'ephemeralContainers', 'volumes']) {
    const now = after.spec?.[location];
    const was = before.spec?.[location];
    if (!Array.isArray(now) || !Array.isArray(was)) continue;
    now.forEach((entry: Record<string, any>, i: number) => {
      const holder = location === 'volumes' ? entry?.image : entry;
      const original = location === 'volumes' ? was[i]?.image : was[i];
      const key = location === 'volumes' ? 'reference' : 'image';
      if (!isRecord(holder) || !isRecord(original) || typeof original[key] !== 'string' || holder[key] === original[key]) return;
      const outcome = rewriteImage(original[key], POLICY.rewrite);
      expect(outcome.kind === 'rewritten' ? outcome.image : original[key], `${location}[${i}] of ${JSON.stringify(original[key])}`).toBe(holder[key]);
      holder[key] = original[key];
      rewritten += 1;
    });
  }
  if (isRecord(after.spec)) {
    const now = after.spec.imagePullSecrets;
    const was = before.spec?.imagePullSecrets;
    const ref = { name: POLICY.pullSecretName };
    if (Array.isArray(now) && JSON.stringify(now.at(-1)) === JSON.stringify(ref) && (Array.isArray(was) ? now.length === was.length + 1 : now.length === 1)) {
      if (was === undefined) delete after.spec.imagePullSecrets;
      else after.spec.imagePullSecrets = was;
    }
  }
  // The annotation is set in the annotations, or in annotations or metadata added where there were
  // none or they were not mappings: take it out, and what was added for it.
  if (isRecord(before.metadata) && isRecord(before.metadata.annotations)) delete before.metadata.annotations[ANNOTATION];
  if (isRecord(after.metadata) && isRecord(after.metadata.annotations)) {
    delete after.metadata.annotations[ANNOTATION];
    if (Object.keys(after.metadata.annotations).length === 0 && !isRecord(before.metadata?.annotations)) restore(after.metadata, before.metadata, 'annotations');
  }
  if (isRecord(after.metadata) && Object.keys(after.metadata).length === 0 && !isRecord(before.metadata)) restore(after, before, 'metadata');
  return rewritten;
}

function checkSecretsAbsent(what: string, text: string): void {
  expect(text.includes(LICENSE_ID), `${what} holds the license ID`).toBe(false);
  expect(text.includes(AUTH), `${what} holds the auth value`).toBe(false);
}

/**
 * An error as text, to compare two runs. Where the stack runs out depends on how much of the
 * parser V8 has compiled yet, so for that error the position is left out.
 */
function errorText(error: unknown): string {
  const text = String(error);
  return text.includes('Maximum call stack size exceeded') ? text.replace(/ \((line \d+, column \d+|starting at line \d+)\)/, '') : text;
}

const seen = { written: 0, refused: 0, rewritten: 0 };

/** Previews `input` whole and in `at` chunks, and checks every invariant. */
async function check(input: string, at: number[]): Promise<void> {
  const whole = await preview([input]);
  expect(whole.ms, 'preview time').toBeLessThan(PREVIEW_DEADLINE_MS);
  const pieces = await preview(chunked(input, at));
  // However the input is cut, the same output, warnings and error.
  expect(pieces.text).toBe(whole.text);
  expect(pieces.warnings).toEqual(whole.warnings);
  expect(errorText(pieces.error)).toBe(errorText(whole.error));
  for (const warning of whole.warnings) checkSecretsAbsent('a warning', warning);

  if (whole.error !== undefined) {
    // Anything else would be a crash of `pullgate preview` rather than exit 2.
    expect(whole.error, String((whole.error as Error)?.stack)).toBeInstanceOf(PreviewInputError);
    const message = (whole.error as Error).message;
    expect(message).toMatch(new RegExp(`^${SOURCE.replace('.', '\\.')}: document \\d+ \\((line \\d+, column \\d+|starting at line \\d+)\\): .`));
    checkSecretsAbsent('an error', message);
    seen.refused += 1;
    return;
  }
  seen.written += 1;

  // A byte order mark at the start is no content (the yaml package reads `\ufeff- a` as `[null]`).
  const inputDocs = contentDocuments(input.replace(/^\ufeff/, ''));
  // Aliases are written resolved when a document is rewritten: the input counts at its expanded size.
  const expanded = inputDocs.reduce((sum, doc) => sum + (attempt(() => JSON.stringify(toJS(doc)))?.length ?? 0), 0);
  expect(whole.text.length, 'output size').toBeLessThanOrEqual(OUTPUT_GROWTH * (input.length + expanded) + OUTPUT_SLACK_PER_DOCUMENT * (inputDocs.length + 1));
  const output = parseStream(whole.text);
  expect(Array.isArray(output)).toBe(true);
  for (const doc of output as Array<{ errors: unknown[] }>) expect(doc.errors, 'the output parses').toEqual([]);
  const outputDocs = contentDocuments(whole.text);
  expect(outputDocs.length, 'one output document for each input document, then the Secrets').toBeGreaterThanOrEqual(inputDocs.length);
  const secrets = outputDocs.slice(inputDocs.length).map(toJS) as Array<Record<string, any>>;
  const namespaces = secrets.map((s) => s.metadata?.namespace);
  expect(new Set(namespaces).size, 'one Secret per namespace').toBe(namespaces.length);
  for (const secret of secrets) {
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: POLICY.pullSecretName } });
  }

  let rewritten = 0;
  inputDocs.forEach((doc, i) => {
    // A document JavaScript cannot hold (a merge key of a scalar) is left as it is, unread.
    let before: unknown;
    try {
      before = toJS(doc);
    } catch (err) {
      expect(() => toJS(outputDocs[i]!), `document ${i + 1}`).toThrow((err as Error).message);
      return;
    }
    const after = toJS(outputDocs[i]!);
    const podPath = isRecord(before) ? podPathOf(before.kind) : undefined;
    if (!podPath || !isRecord(before) || !isRecord(after)) {
      expect(after, `document ${i + 1}, not Pod-bearing, comes through unchanged`).toEqual(before);
      return;
    }
    const podBefore = getIn(before, podPath);
    const podAfter = getIn(after, podPath);
    if (isRecord(podBefore) && isRecord(podAfter)) rewritten += undoMutation(podAfter, podBefore);
    expect(after, `document ${i + 1} (${String(before.kind)}) changed only in images, pull secrets and the annotation`).toEqual(before);
  });
  seen.rewritten += rewritten;
  if (rewritten > 0) expect(secrets.length, 'a Secret for the rewritten images').toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------

describe('preview under generated YAML', () => {
  // As `pullgate preview` does (main.ts): the yaml parser reads process.env.LOG_TOKENS for every
  // token, and a plain copy of the environment makes each read cheap.
  beforeAll(() => {
    process.env = { ...process.env };
  });

  const valid = budget('preview: generated manifests', 100, 60);
  it('writes generated manifests of every kind, anchors, aliases and merge keys included: same documents, the pull Secrets, only images, pull secrets and the annotation changed', { timeout: valid.timeoutMs }, async () => {
    Object.assign(seen, { written: 0, refused: 0, rewritten: 0 });
    await fc.assert(fc.asyncProperty(stream, cuts, check), valid.params);
    expect(seen.written, 'generated streams written').toBeGreaterThan(valid.params.numRuns / 2);
    expect(seen.rewritten, 'images rewritten').toBeGreaterThan(valid.params.numRuns / 2);
  });

  const broken = budget('preview: noise and damaged manifests', 400, 40);
  it('refuses noise, truncated and damaged manifests only with a PreviewInputError naming the document, or writes them', { timeout: broken.timeoutMs }, async () => {
    Object.assign(seen, { written: 0, refused: 0, rewritten: 0 });
    await fc.assert(fc.asyncProperty(fc.oneof(noise, damaged), cuts, check), broken.params);
    expect(seen.refused, 'inputs refused').toBeGreaterThan(broken.params.numRuns / 10);
    expect(seen.written, 'inputs written').toBeGreaterThan(broken.params.numRuns / 10);
  });

  // Found by the property above, shrunk: a last document cut off after an escaped quote inside a
  // double-quoted scalar, with no line end. The yaml package reports no error for it (it does
  // with a line end), so preview writes it as it is, with a line end, and the output no longer parses.
  it('refuses a stream that ends inside a double-quoted scalar, right after an escaped quote', async () => {
    await check('kind: ConfigMap\ndata:\n  a: "\\"', []);
  });

  const costly = budget('preview: deep nesting, alias bombs, wide mappings', 20, 1_000, 100);
  it('gets through deep nesting, alias bombs and wide mappings within the deadline', { timeout: costly.timeoutMs }, async () => {
    await fc.assert(fc.asyncProperty(heavy, cuts, check), costly.params);
  });

  // Found by the property above: the yaml package writes a long flow collection with each nesting
  // level on lines of its own, indented one step further, so a rewritten document grew with the
  // square of its nesting unless written without a line width (100 levels: 275 bytes in, 27 KB out).
  it('writes a rewritten Pod holding a flow sequence nested 100 deep in proportion to its size', async () => {
    await check(`kind: Pod\nspec:\n  containers: [{name: c, image: quay.io/acme/web:1}]\n  x: ${'['.repeat(100)}${']'.repeat(100)}\n`, []);
  });
});
