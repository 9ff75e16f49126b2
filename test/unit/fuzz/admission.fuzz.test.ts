// `POST /mutate` of a real `pullgate serve` under generated and mangled AdmissionReviews: wrong
// types at every field it reads, nesting 50,000 deep, huge arrays, prototype-named keys, control
// characters and lone surrogates, Pods with any image strings. Whatever arrives, the server answers
// within a deadline, with a 200 AdmissionReview that echoes the uid and admits (its patch applies
// to the object and touches only images, the pull secret reference and pullgate's annotation) or a
// 4xx {code, message}; never a 5xx, never the credential in an answer, a log line or a metric.
import { Agent as HttpsAgent } from 'node:https';
import fc from 'fast-check';
import fjp from 'fast-json-patch';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeReview } from '../../../src/admission/review.ts';
import { HttpError } from '../../../src/errors.ts';
import { withDeadline } from '../../../src/util/with-deadline.ts';
import { send, type Answer } from '../../support/http.ts';
import { AUTH, LICENSE_ID } from '../helpers/fixtures.ts';
import { budget, deepArray, imageString, JsonMembers, jsonText, loneSurrogate, noisyString, RawJson, startServed, type Served } from './support.ts';

vi.setConfig({ hookTimeout: 60_000 });

const { applyPatch } = fjp;

const BODY_LIMIT = 4 * 1024 * 1024;
/** Longest any one answer may take on a loaded machine: well past the slowest case here. */
const ANSWER_DEADLINE_MS = 10_000;
/** Namespaces the example configuration serves (team-a by its opt-in label); no other Pod is changed. */
const SERVED = new Set(['my-app', 'monitoring', 'team-a']);
const ANNOTATION_POINTER = '/metadata/annotations/pullgate.dev~1original-images';

let served: Served;
let agent: HttpsAgent;

beforeAll(async () => {
  served = await startServed(BODY_LIMIT);
  agent = new HttpsAgent({ keepAlive: true, maxSockets: 8 });
});

afterAll(async () => {
  agent?.destroy();
  await served?.close();
});

// ---------------------------------------------------------------------------------------------
// Generated Pods and reviews

const name = fc.oneof({ weight: 8, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/) }, { weight: 1, arbitrary: noisyString(12) });
const container = fc.record(
  { name, image: imageString, imagePullPolicy: fc.constantFrom('Always', 'IfNotPresent'), args: fc.array(noisyString(10), { maxLength: 2 }) },
  { requiredKeys: ['name', 'image'] },
);
const volume = fc.oneof(
  fc.record({ name, image: fc.record({ reference: imageString, pullPolicy: fc.constant('IfNotPresent') }, { requiredKeys: ['reference'] }) }),
  fc.record({ name, emptyDir: fc.constant({}) }),
);
const originalImages = fc.oneof(
  fc.dictionary(fc.constantFrom('containers/web', 'initContainers/a', 'volumes/v', '__proto__'), imageString, { maxKeys: 3 }).map((d) => JSON.stringify(d)),
  fc.constantFrom('', 'not json', '[]', 'null', '{"containers/web": 1}', '{"__proto__": {"x": "y"}}'),
);
const annotations = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom('a/b', 'x~y', 'plain', 'pullgate.dev/original-images'), fc.oneof(noisyString(20), originalImages), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.constant(null) },
);
const labels = fc.dictionary(fc.constantFrom('app', 'tier', 'pullgate.dev/inject'), fc.constantFrom('web', 'enabled', 'disabled'), { maxKeys: 2 });
const namespace = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('my-app', 'monitoring', 'team-a') },
  { weight: 2, arbitrary: fc.constantFrom('not-served', 'kube-system', 'pullgate', 'missing', '') },
  { weight: 1, arbitrary: noisyString(20) },
);

const podArb = fc.record(
  {
    apiVersion: fc.constant('v1'),
    kind: fc.constant('Pod'),
    metadata: fc.record({ name, labels, annotations }, { requiredKeys: ['name'] }),
    spec: fc.record(
      {
        containers: fc.array(container, { minLength: 1, maxLength: 4 }),
        initContainers: fc.array(container, { maxLength: 2 }),
        ephemeralContainers: fc.array(container, { maxLength: 2 }),
        volumes: fc.array(volume, { maxLength: 2 }),
        imagePullSecrets: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('a', 'my-app-registry') }), { maxLength: 2 }), fc.constant(null)),
      },
      { requiredKeys: ['containers'] },
    ),
  },
  { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
);

type Operation = { operation: string; subResource?: string; oldObject: boolean; object: boolean };
const operation = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Operation>({ operation: 'CREATE', object: true, oldObject: false }) },
  { weight: 3, arbitrary: fc.constant<Operation>({ operation: 'UPDATE', object: true, oldObject: true }) },
  { weight: 2, arbitrary: fc.constant<Operation>({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object: true, oldObject: true }) },
  { weight: 1, arbitrary: fc.constant<Operation>({ operation: 'DELETE', object: false, oldObject: true }) },
  { weight: 1, arbitrary: fc.constant<Operation>({ operation: 'CONNECT', subResource: 'exec', object: false, oldObject: false }) },
  { weight: 1, arbitrary: fc.constantFrom('CREATE', 'UPDATE', 'PATCH', 'create', 'binding').map((op): Operation => ({ operation: op, subResource: 'status', object: true, oldObject: true })) },
);
const uid = fc.oneof({ weight: 5, arbitrary: fc.uuid() }, { weight: 1, arbitrary: noisyString(30).filter((s) => s !== '') });

/** An AdmissionReview as the API server sends it, for a generated Pod (and, on UPDATE, the stored one). */
const reviewArb = fc
  .record({ apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'), uid, op: operation, pod: podArb, old: podArb, sameStored: fc.boolean(), namespace, dryRun: fc.boolean() })
  .map(({ apiVersion, uid, op, pod, old, sameStored, namespace, dryRun }) => {
    const kind = { group: '', version: 'v1', kind: 'Pod' };
    const resource = { group: '', version: 'v1', resource: 'pods' };
    return {
      apiVersion,
      kind: 'AdmissionReview',
      request: {
        uid,
        kind,
        resource,
        requestKind: kind,
        requestResource: resource,
        ...(op.subResource ? { subResource: op.subResource } : {}),
        name: pod.metadata.name,
        namespace,
        operation: op.operation,
        userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
        object: op.object ? pod : null,
        // On UPDATE, sometimes the stored Pod is the same one: most of its images then stay as they are.
        oldObject: op.oldObject ? (sameStored ? pod : old) : null,
        dryRun,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    };
  });

// ---------------------------------------------------------------------------------------------
// Values for the wrong place

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'] as const;
const protoMembers = fc
  .array(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.oneof(fc.constant({ polluted: true }), fc.constant(null), fc.constant([1]), fc.constant('x'))), { minLength: 1, maxLength: 3 })
  .map((members) => new JsonMembers(members));

/** A value of the wrong type for any field, cheap ones and costly ones. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, undefined, true, false, 0, -1, 1.5, 1e308, -0, '', {}, [], [null], { a: 1 }, ['CREATE']) },
  { weight: 2, arbitrary: noisyString(40) },
  { weight: 1, arbitrary: fc.integer({ min: 250, max: 300 }).map((n) => 'q'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(new RawJson('1e400', '1e400'), new RawJson('-1e400', '-1e400'), new RawJson('123456789012345678901234567890', 'big integer'), new RawJson('"\\u0000\\ud800\\udfff"', 'escaped lone surrogates')) },
  { weight: 1, arbitrary: protoMembers },
  { weight: 1, arbitrary: fc.array(fc.oneof(noisyString(10), fc.integer(), fc.constant(null)), { maxLength: 5 }) },
);

/** Values too deep or too large to walk recursively, or with keys that name Object.prototype. */
const heavyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(50_000, 10_000, 6_000).map(deepArray),
  fc.constantFrom(20_000, 200_000).map((n) => new RawJson(`[${Array(n).fill('0').join(',')}]`, `array of ${n} zeros`)),
  fc.constant(new RawJson(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`, 'object 20000 deep')),
  fc.constant(new RawJson(`[${Array(20_000).fill('{"name":"c","image":"quay.io/acme/web:1"}').join(',')}]`, '20000 containers to rewrite')),
  protoMembers,
);

type Path = readonly string[];

/** Fields pullgate reads in the envelope: a wrong value there may be refused. */
const ENVELOPE_PATHS: Path[] = [
  ['apiVersion'], ['kind'], ['request'],
  ['request', 'uid'], ['request', 'operation'], ['request', 'subResource'], ['request', 'namespace'], ['request', 'name'], ['request', 'dryRun'],
  ['request', 'object'], ['request', 'oldObject'],
  ['request', 'kind'], ['request', 'kind', 'group'], ['request', 'kind', 'version'], ['request', 'kind', 'kind'],
  ['request', 'resource'], ['request', 'resource', 'group'], ['request', 'resource', 'version'], ['request', 'resource', 'resource'],
];
/** Inside the Pod and places pullgate does not read: any value there still gets a 200. */
const INNER_PATHS: Path[] = [
  ...['object', 'oldObject'].flatMap((o): Path[] => [
    ['request', o, 'metadata'], ['request', o, 'metadata', 'annotations'], ['request', o, 'metadata', 'annotations', 'pullgate.dev/original-images'],
    ['request', o, 'metadata', 'labels'], ['request', o, 'metadata', 'labels', 'pullgate.dev/inject'], ['request', o, 'metadata', 'name'],
    ['request', o, 'spec'], ['request', o, 'spec', 'containers'], ['request', o, 'spec', 'containers', '0'], ['request', o, 'spec', 'containers', '0', 'image'],
    ['request', o, 'spec', 'containers', '0', 'name'], ['request', o, 'spec', 'containers', '0', 'args'], ['request', o, 'spec', 'initContainers'],
    ['request', o, 'spec', 'ephemeralContainers'], ['request', o, 'spec', 'ephemeralContainers', '0', 'image'], ['request', o, 'spec', 'volumes'],
    ['request', o, 'spec', 'volumes', '0', 'image'], ['request', o, 'spec', 'volumes', '0', 'image', 'reference'], ['request', o, 'spec', 'imagePullSecrets'],
    ['request', o, 'spec', 'imagePullSecrets', '0'], ['request', o, 'spec', 'imagePullSecrets', '0', 'name'], ['request', o, 'spec', 'nodeSelector'], ['request', o, 'extra'],
  ]),
  ['request', 'userInfo'], ['request', 'options'], ['request', 'requestKind'], ['extra'],
];

/** `tree` with `value` at `path` (undefined removes it); the nodes on the path are copied, never changed. */
function withValue(tree: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path as [string, ...string[]];
  if (Array.isArray(tree)) {
    const index = Number(key);
    if (!(index < tree.length)) return tree;
    const copy = [...tree];
    copy[index] = withValue(tree[index], rest, value);
    return copy;
  }
  if (typeof tree !== 'object' || tree === null || tree instanceof RawJson || tree instanceof JsonMembers) return tree;
  const record = tree as Record<string, unknown>;
  if (rest.length > 0 && !Object.hasOwn(record, key)) return tree;
  return { ...record, [key]: withValue(record[key], rest, value) };
}

interface Mangled {
  review: unknown;
  /** Only places that cannot make a review invalid were changed: the answer must be a 200. */
  admissible: boolean;
}

function mangled(paths: Path[], values: fc.Arbitrary<unknown>, maxChanges: number, admissible: boolean): fc.Arbitrary<Mangled> {
  return fc
    .tuple(reviewArb, fc.array(fc.tuple(fc.constantFrom(...paths), values), { minLength: 1, maxLength: maxChanges }))
    .map(([review, changes]) => ({ review: changes.reduce<unknown>((tree, [path, value]) => withValue(tree, path, value), review), admissible }));
}

// ---------------------------------------------------------------------------------------------
// The invariants

const AT_POD_ROOT = [
  /^\/spec\/(containers|initContainers|ephemeralContainers)\/\d+\/image$/,
  /^\/spec\/volumes\/\d+\/image\/reference$/,
  /^\/spec\/imagePullSecrets(\/-)?$/,
  /^\/metadata\/annotations\/pullgate\.dev~1original-images$/,
  /^\/metadata\/annotations$/,
  /^\/metadata$/,
];

function post(body: Buffer): Promise<Answer> {
  return withDeadline(
    send(served.port, { method: 'POST', path: '/mutate', ca: served.ca, agent, headers: { 'content-type': 'application/json' }, body }),
    ANSWER_DEADLINE_MS,
    `no answer within ${ANSWER_DEADLINE_MS} ms`,
  );
}

/** What decodeReview makes of the body pullgate receives: the refusal it must send, or the review. */
function expectedOf(body: Buffer): { refused: HttpError } | { review: Record<string, any> } {
  if (body.length === 0) return { refused: new HttpError('EMPTY_BODY') };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { refused: new HttpError('MALFORMED_JSON') };
  }
  try {
    decodeReview(parsed);
  } catch (err) {
    if (err instanceof HttpError) return { refused: err };
    throw err;
  }
  return { review: parsed as Record<string, any> };
}

function checkSecretsAbsent(what: string, text: string): void {
  expect(text.includes(LICENSE_ID), `${what} holds the license ID`).toBe(false);
  expect(text.includes(AUTH), `${what} holds the auth value`).toBe(false);
}

/** Checks the patch of an admitted review against the Pod it was computed for. */
function checkPatch(body: Buffer, review: Record<string, any>, response: Record<string, any>): void {
  const request = review.request;
  expect(response.patchType).toBe('JSONPatch');
  expect(['CREATE', 'UPDATE']).toContain(request.operation);
  expect(SERVED.has(request.namespace), `a patch for namespace ${JSON.stringify(request.namespace)}`).toBe(true);
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as fjp.Operation[];
  expect(Array.isArray(ops) && ops.length > 0).toBe(true);
  const ephemeral = request.subResource === 'ephemeralcontainers';
  const update = request.operation === 'UPDATE' && !ephemeral;
  for (const op of ops) {
    expect(['add', 'replace'], JSON.stringify(op)).toContain(op.op);
    expect(AT_POD_ROOT.some((re) => re.test(op.path)), `patch path ${op.path}`).toBe(true);
    // Each subresource keeps only what it may change (see pod-images.ts); an UPDATE cannot add a pull secret.
    if (ephemeral) expect(op.path, 'ephemeralcontainers subresource').toMatch(/^\/spec\/ephemeralContainers\/\d+\/image$/);
    if (update) expect(op.path, 'Pod UPDATE').not.toMatch(/^\/spec\/(ephemeralContainers|volumes|imagePullSecrets)/);
  }
  // A fresh copy of what pullgate parsed: deepClone cannot copy a value nested 50,000 deep.
  const object = (JSON.parse(body.toString('utf8')) as Record<string, any>).request.object;
  const patched = applyPatch(object, ops, true, true).newDocument as Record<string, any>;
  const annotation = patched.metadata?.annotations?.['pullgate.dev/original-images'];
  if (ops.some((op) => op.path.startsWith('/metadata'))) {
    expect(typeof annotation).toBe('string');
    const originals = JSON.parse(annotation) as unknown;
    expect(typeof originals === 'object' && originals !== null && !Array.isArray(originals)).toBe(true);
    for (const value of Object.values(originals as object)) expect(typeof value).toBe('string');
  }
  for (const op of ops) {
    if (op.path.endsWith('/image') || op.path.endsWith('/reference')) expect(typeof (op as { value: unknown }).value).toBe('string');
  }
}

let logsSeen = 0;
/** What the answers of the current property were, so a property that never reaches a patch or a refusal fails. */
const seen = { patched: 0, admitted: 0, refused: 0 };
function resetSeen(): void {
  Object.assign(seen, { patched: 0, admitted: 0, refused: 0 });
}

/** Posts `body` and checks every invariant of the answer. */
async function checkAnswer(body: Buffer, admissible: boolean): Promise<void> {
  const answer = await post(body);
  const expected = expectedOf(body);
  checkSecretsAbsent('the answer', answer.text);
  const newLines = served.logs.lines.slice(logsSeen);
  logsSeen = served.logs.lines.length;
  checkSecretsAbsent('a log line', newLines.join(''));
  expect(answer.status, answer.text.slice(0, 500)).toBeLessThan(500);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const out = answer.json() as Record<string, any>;

  if ('refused' in expected) {
    expect(admissible, `refused a review changed only where pullgate does not look: ${answer.text.slice(0, 500)}`).toBe(false);
    expect(answer.status, answer.text.slice(0, 500)).toBe(expected.refused.status);
    expect(Object.keys(out).sort()).toEqual(['code', 'message']);
    expect(out.code).toBe(expected.refused.code);
    expect(typeof out.message).toBe('string');
    seen.refused += 1;
    return;
  }
  const { review } = expected;
  expect(answer.status, answer.text.slice(0, 500)).toBe(200);
  expect(Object.keys(out).sort()).toEqual(['apiVersion', 'kind', 'response']);
  expect(out.apiVersion).toBe(review.apiVersion);
  expect(out.kind).toBe('AdmissionReview');
  const response = out.response as Record<string, any>;
  expect(response.uid).toBe(review.request.uid);
  expect(response.allowed).toBe(true);
  for (const key of Object.keys(response)) expect(['uid', 'allowed', 'patchType', 'patch', 'warnings']).toContain(key);
  if (response.warnings !== undefined) {
    expect(Array.isArray(response.warnings)).toBe(true);
    for (const warning of response.warnings) expect(typeof warning).toBe('string');
    // The handler's catch-all: a defect in pullgate that admitted the Pod unchanged.
    expect(response.warnings.join('\n'), 'admitted unchanged after an internal error').not.toContain('internal error');
  }
  expect(newLines.join(''), 'admitted unchanged after an internal error').not.toContain('admission failed');
  if (response.patch === undefined) {
    expect(response.patchType).toBeUndefined();
    seen.admitted += 1;
  } else {
    checkPatch(body, review, response);
    seen.patched += 1;
  }
}

function bodyOf(review: unknown): Buffer {
  return Buffer.from(jsonText(review), 'utf8');
}

// ---------------------------------------------------------------------------------------------

describe('POST /mutate under generated and mangled reviews', () => {
  beforeEach(resetSeen);

  const generated = budget('generated reviews', 400, 100);
  it('answers generated Pod reviews (any image strings, odd metadata) with a 200 whose patch applies and touches only images, the pull secret and the annotation', { timeout: generated.timeoutMs }, async () => {
    await fc.assert(
      fc.asyncProperty(reviewArb, async (review) => checkAnswer(bodyOf(review), true)),
      generated.params,
    );
    expect(seen.patched, 'generated reviews that got a patch').toBeGreaterThan(generated.params.numRuns / 5);
    expect(seen.admitted, 'generated reviews admitted unchanged').toBeGreaterThan(0);
  });

  const envelope = budget('wrong types in the envelope', 500, 100);
  it('answers a wrong type at any field it reads with the refusal decodeReview names, or admits', { timeout: envelope.timeoutMs }, async () => {
    await fc.assert(
      fc.asyncProperty(mangled(ENVELOPE_PATHS, wrongValue, 3, false), async ({ review }) => checkAnswer(bodyOf(review), false)),
      envelope.params,
    );
    expect(seen.refused, 'mangled reviews refused').toBeGreaterThan(envelope.params.numRuns / 4);
    expect(seen.patched, 'mangled reviews still patched').toBeGreaterThan(0);
  });

  const inner = budget('wrong types inside the Pod', 400, 100);
  it('admits a review whose Pod, or anything it does not read, holds wrong types, control characters and prototype keys', { timeout: inner.timeoutMs }, async () => {
    await fc.assert(
      fc.asyncProperty(mangled(INNER_PATHS, wrongValue, 4, true), async ({ review, admissible }) => checkAnswer(bodyOf(review), admissible)),
      inner.params,
    );
    expect(seen.patched, 'reviews with odd Pods that got a patch').toBeGreaterThan(inner.params.numRuns / 10);
  });

  const heavy = budget('deep, huge and prototype-keyed values', 50, 1_000);
  it('answers reviews with values nested 50,000 deep, arrays of 200,000 items and prototype-named keys anywhere', { timeout: heavy.timeoutMs }, async () => {
    const arbitrary = fc.oneof(mangled(ENVELOPE_PATHS, heavyValue, 1, false), mangled(INNER_PATHS, heavyValue, 2, true));
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ review, admissible }) => checkAnswer(bodyOf(review), admissible)),
      heavy.params,
    );
  });

  // Found by the property above, shrunk: a Pod with an image to proxy and, anywhere in it, an array
  // nested deeper than the stack can follow (about 7,000 levels; 50,000 here), e.g. a container's args.
  it('admits a Pod holding an array nested 50,000 deep with its image proxied, not unchanged after an internal error', async () => {
    await checkAnswer(bodyOf(withValue(reviewOf('quay.io/acme/web:1'), ['request', 'object', 'spec', 'containers', '0', 'args'], deepArray(50_000))), true);
    expect(seen.patched).toBe(1);
  });

  // The same, through the size of the annotation's previous value when it is not a string.
  it('admits a Pod whose original-images annotation is an object nested 20,000 deep with its image proxied', async () => {
    const deepObject = new RawJson(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`, 'object 20000 deep');
    await checkAnswer(bodyOf(withValue(reviewOf('quay.io/acme/web:1'), ['request', 'object', 'metadata'], { name: 'p', annotations: { 'pullgate.dev/original-images': deepObject } })), true);
    expect(seen.patched).toBe(1);
  });

  const bytes = budget('bodies that are not reviews', 400, 60);
  it('refuses bodies that are not reviews (truncated, bit-flipped, noise, invalid UTF-8, other JSON) with a 4xx naming why', { timeout: bytes.timeoutMs }, async () => {
    const body = fc.oneof(
      fc.tuple(reviewArb, fc.nat()).map(([review, at]) => {
        const text = bodyOf(review);
        return text.subarray(0, at % text.length);
      }),
      fc.tuple(reviewArb, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([review, at, byte]) => {
        const text = Buffer.from(bodyOf(review));
        text[at % text.length] = byte;
        return text;
      }),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.tuple(reviewArb, loneSurrogate).map(([review, s]) => Buffer.concat([Buffer.from(`\ufeff${s}`), bodyOf(review)])),
      fc.constantFrom('null', '[]', '"AdmissionReview"', '1', '{}', '{"kind":"AdmissionReview"}', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}').map((t) => Buffer.from(t)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => checkAnswer(b, false)),
      bytes.params,
    );
    expect(seen.refused, 'bodies refused').toBeGreaterThan(bytes.params.numRuns / 2);
  });

  const burst = budget('concurrent reviews', 12, 3_000);
  it('answers 24 reviews at once, mangled or not, each within the deadline', { timeout: burst.timeoutMs }, async () => {
    const any = fc.oneof(reviewArb.map((review) => ({ review, admissible: true })), mangled(ENVELOPE_PATHS, wrongValue, 2, false), mangled(INNER_PATHS, wrongValue, 2, true));
    await fc.assert(
      fc.asyncProperty(fc.array(any, { minLength: 24, maxLength: 24 }), async (cases) => {
        await Promise.all(cases.map(({ review, admissible }) => checkAnswer(bodyOf(review), admissible)));
      }),
      burst.params,
    );
  });

  it('is still healthy afterwards, and its metrics hold no credential and only fixed label values', async () => {
    const health = await send(served.port, { path: '/healthz', ca: served.ca });
    expect(health.status).toBe(200);
    const metrics = (await send(served.metricsPort, { path: '/metrics' })).text;
    checkSecretsAbsent('the metrics', metrics);
    checkSecretsAbsent('the logs', served.logs.text());
    const operations = new Set([...metrics.matchAll(/^pullgate_admission_requests_total\{operation="([^"]*)"/gm)].map((m) => m[1]));
    // Everything the fuzzing sent, across hundreds of odd operations and subresources, fits these.
    const fixed = /^(CREATE|UPDATE|DELETE|CONNECT)(\/(ephemeralcontainers|status|binding|eviction|resize|attach|exec|portforward|proxy))?$|^other$/;
    for (const op of operations) expect(op).toMatch(fixed);
    const codes = new Set([...metrics.matchAll(/^pullgate_rejected_requests_total\{code="([^"]*)"/gm)].map((m) => m[1]));
    for (const code of codes) expect(code).toMatch(/^[A-Z_]+$/);
  });
});

/** A CREATE review of a Pod in my-app with one container: the image, nothing else odd. */
function reviewOf(image: string) {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image }] } };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'uid-fuzz', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'my-app', operation: 'CREATE', object: pod, dryRun: false },
  };
}
