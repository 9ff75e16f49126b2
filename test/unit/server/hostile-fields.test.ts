// Reviews whose fields have the wrong type: every field pullgate reads is checked before it is
// used, so a wrong type is a 400 naming the field (INVALID_FIELD), never a 500, whatever the value
// is, including an array nested 100,000 deep, which V8 parses but cannot turn back into a string.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeReview, MAX_FIELD_LENGTH } from '../../../src/admission/review.ts';
import { HttpError } from '../../../src/errors.ts';
import { postReview } from '../../support/http.ts';
import { pod, review } from '../../support/reviews.ts';
import { hostileServer, type Hostile } from './hostile-harness.ts';

const DEPTH = 100_000;
/** JSON text of an array nested DEPTH deep. */
const DEEP_ARRAY = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const DEEP_MARK = '"__deep__"';

/** The text of `body` with DEEP_MARK replaced by DEEP_ARRAY (JSON.stringify cannot write one). */
function withDeep(body: unknown): string {
  return JSON.stringify(body).replace(DEEP_MARK, DEEP_ARRAY);
}

const WRONG = {
  object: { a: 1 },
  array: ['CREATE'],
  number: 42,
  boolean: true,
  'deep array': '__deep__',
} as const;

type Path = readonly string[];

/** A valid Pod CREATE review with `path` set to `value`. */
function reviewWith(path: Path, value: unknown): Record<string, any> {
  const body: Record<string, any> = review(pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { uid: 'uid-fields' });
  let node = body;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path.at(-1)!] = value;
  return body;
}

interface FieldCase {
  path: Path;
  /** Types it accepts, whose WRONG values are skipped. */
  accepts?: ReadonlyArray<keyof typeof WRONG>;
  /** What null and absence are: refused, or read as absent (as Kubernetes' decoders read a null). */
  nullIs: 'refused' | 'absent';
}

const FIELDS: FieldCase[] = [
  { path: ['request', 'uid'], nullIs: 'refused' },
  { path: ['request', 'operation'], nullIs: 'refused' },
  { path: ['request', 'subResource'], nullIs: 'absent' },
  { path: ['request', 'namespace'], nullIs: 'absent' },
  { path: ['request', 'name'], nullIs: 'absent' },
  { path: ['request', 'kind'], accepts: ['object'], nullIs: 'absent' },
  { path: ['request', 'kind', 'group'], nullIs: 'absent' },
  { path: ['request', 'kind', 'version'], nullIs: 'absent' },
  { path: ['request', 'kind', 'kind'], nullIs: 'absent' },
  { path: ['request', 'resource'], accepts: ['object'], nullIs: 'absent' },
  { path: ['request', 'resource', 'group'], nullIs: 'absent' },
  { path: ['request', 'resource', 'version'], nullIs: 'absent' },
  { path: ['request', 'resource', 'resource'], nullIs: 'absent' },
  { path: ['request', 'dryRun'], accepts: ['boolean'], nullIs: 'absent' },
  // Required on CREATE (the review here); oldObject only on UPDATE, see below.
  { path: ['request', 'object'], accepts: ['object'], nullIs: 'refused' },
  { path: ['request', 'oldObject'], accepts: ['object'], nullIs: 'absent' },
];

let h: Hostile;
beforeAll(async () => {
  h = await hostileServer({ bodyLimit: 4 * 1024 * 1024 });
});
afterAll(() => h.close());

describe('a field pullgate reads, with the wrong type', () => {
  for (const field of FIELDS) {
    const name = field.path.join('.');
    it(`${name}: every wrong type is a 400 naming the field; null is ${field.nullIs === 'refused' ? 'refused' : 'read as absent'}`, async () => {
      for (const [type, value] of Object.entries(WRONG) as Array<[keyof typeof WRONG, unknown]>) {
        if (field.accepts?.includes(type)) continue;
        const answer = await postReview(h.port, h.ca, withDeep(reviewWith(field.path, value)));
        expect(answer.status, `${name} = ${type}: ${answer.text}`).toBe(400);
        const out = answer.json();
        expect(out.code, `${name} = ${type}`).toBe('INVALID_FIELD');
        expect(out.message, `${name} = ${type}`).toContain(`${name}: expected `);
        expect(out.message).toContain(`got ${type === 'deep array' ? 'an array' : type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`}`);
      }
      const nulled = await postReview(h.port, h.ca, reviewWith(field.path, null));
      if (field.nullIs === 'absent') {
        expect(nulled.status, nulled.text).toBe(200);
        expect(nulled.json().response.uid).toBe('uid-fields');
      } else {
        expect(nulled.status, nulled.text).toBe(400);
        expect(nulled.json().code).toBe(name === 'request.uid' ? 'MISSING_UID' : 'INVALID_FIELD');
      }
    });
  }

  it('a string field longer than the longest the API server sends is a 400 naming it, without quoting it', async () => {
    for (const path of [['request', 'uid'], ['request', 'operation'], ['request', 'namespace'], ['request', 'resource', 'resource']]) {
      const long = 'q'.repeat(MAX_FIELD_LENGTH + 1);
      const answer = await postReview(h.port, h.ca, reviewWith(path, long));
      expect(answer.status).toBe(400);
      expect(answer.json()).toEqual({ code: 'INVALID_FIELD', message: `AdmissionReview field has the wrong type or length: ${path.join('.')}: expected ${path[1] === 'operation' ? 'a non-empty' : 'a'} string of at most ${MAX_FIELD_LENGTH} characters, got a string of ${MAX_FIELD_LENGTH + 1} characters` });
      expect(answer.text).not.toContain(long);
    }
    const longest = await postReview(h.port, h.ca, reviewWith(['request', 'name'], 'n'.repeat(MAX_FIELD_LENGTH)));
    expect(longest.status).toBe(200);
  });

  it('an UPDATE without the stored object, or a CREATE without the object, is a 400 naming it', async () => {
    const update = reviewWith(['request', 'operation'], 'UPDATE');
    delete update.request.oldObject;
    const answer = await postReview(h.port, h.ca, update);
    expect(answer.status).toBe(400);
    expect(answer.json().message).toContain('request.oldObject: expected an object (required for UPDATE), got nothing');
    const create = reviewWith(['request', 'object'], undefined);
    expect((await postReview(h.port, h.ca, create)).json().message).toContain('request.object: expected an object (required for CREATE), got nothing');
    // DELETE carries only the stored object: fine without the new one.
    const del = reviewWith(['request', 'operation'], 'DELETE');
    del.request.oldObject = del.request.object;
    del.request.object = null;
    const deleted = await postReview(h.port, h.ca, del);
    expect(deleted.status).toBe(200);
    expect(deleted.json().response).toEqual({ uid: 'uid-fields', allowed: true });
  });

  it('is counted once per refusal under INVALID_FIELD, and the server keeps serving', async () => {
    const before = await h.scrape();
    const count = (page: string) => Number(/^pullgate_rejected_requests_total\{code="INVALID_FIELD"\} (\d+)$/m.exec(page)?.[1] ?? 0);
    await postReview(h.port, h.ca, withDeep(reviewWith(['request', 'operation'], '__deep__')));
    expect(count(await h.scrape())).toBe(count(before) + 1);
    expect((await postReview(h.port, h.ca, reviewWith(['request', 'uid'], 'uid-fields'))).status).toBe(200);
  });
});

describe('deep nesting where pullgate does not look', () => {
  it('is admitted like any other Pod: parsed, never walked or turned back into text', async () => {
    const places: Path[] = [
      ['request', 'object', 'spec', 'containers', '0', 'args'],
      ['request', 'object', 'metadata', 'labels'],
      ['request', 'object', 'spec', 'imagePullSecrets'],
      ['request', 'object', 'spec', 'volumes'],
      ['request', 'object', 'extra'],
      ['request', 'userInfo'],
      ['request', 'options'],
      ['extra'],
    ];
    for (const path of places) {
      const body = reviewWith(['request', 'uid'], 'uid-deep');
      let node: any = body;
      for (const key of path.slice(0, -1)) node = node[key];
      node[path.at(-1)!] = '__deep__';
      const answer = await postReview(h.port, h.ca, withDeep(body));
      expect(answer.status, `${path.join('.')}: ${answer.text}`).toBe(200);
      expect(answer.json().response).toMatchObject({ uid: 'uid-deep', allowed: true });
    }
    // The original-images annotation is JSON pullgate parses again; deep there too.
    const annotated = reviewWith(['request', 'object', 'metadata', 'annotations'], { 'pullgate.dev/original-images': DEEP_ARRAY });
    const answer = await postReview(h.port, h.ca, annotated);
    expect(answer.status).toBe(200);
    expect(answer.json().response.patchType).toBe('JSONPatch');
  });

  it('is refused as malformed JSON, not a crash, when the nesting is unbalanced', async () => {
    const answer = await postReview(h.port, h.ca, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(DEPTH)}`);
    expect(answer.status).toBe(400);
    expect(answer.json().code).toBe('MALFORMED_JSON');
  });
});

describe('decodeReview', () => {
  it('returns only the fields it checked, null read as absent', () => {
    const body = reviewWith(['request', 'subResource'], null);
    body.request.dryRun = null;
    const { request } = decodeReview(body);
    expect(request).toEqual({
      uid: 'uid-fields',
      operation: 'CREATE',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: undefined,
      namespace: 'my-app',
      name: 'p',
      object: body.request.object,
      oldObject: undefined,
      dryRun: undefined,
    });
    expect(request.object).toBe(body.request.object);
  });

  it('describes a wrong value by its type and size only', () => {
    const secret = { password: 'hunter2' };
    try {
      decodeReview(reviewWith(['request', 'namespace'], secret));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).message).toBe('AdmissionReview field has the wrong type or length: request.namespace: expected a string of at most 253 characters, got an object');
    }
  });
});
