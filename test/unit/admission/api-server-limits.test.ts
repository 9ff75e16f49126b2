import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addedFieldSize,
  ANNOTATIONS_SIZE_LIMIT,
  annotationsSize,
  ETCD_REQUEST_LIMIT,
  mapEntrySize,
  STORED_OBJECT_BUDGET,
  storedSizeBound,
  storedSizeEstimate,
  stringFieldSize,
} from '../../../src/admission/api-server-limits.ts';

describe('the limits', () => {
  it('are those of the API server and etcd', () => {
    // k8s.io/apimachinery TotalAnnotationSizeLimitB and etcd's DefaultMaxRequestBytes.
    expect(ANNOTATIONS_SIZE_LIMIT).toBe(262_144);
    expect(ETCD_REQUEST_LIMIT).toBe(1_572_864);
    expect(STORED_OBJECT_BUDGET).toBeLessThan(ETCD_REQUEST_LIMIT);
  });
});

describe('annotationsSize (ValidateAnnotationsSize)', () => {
  it('adds up the UTF-8 bytes of every key and value', () => {
    expect(annotationsSize(undefined)).toBe(0);
    expect(annotationsSize({})).toBe(0);
    expect(annotationsSize({ a: 'bc', 'example.com/d': '' })).toBe(3 + 13);
    // Bytes, not characters: é is two, 😀 four.
    expect(annotationsSize({ k: 'é😀' })).toBe(1 + 6);
  });

  it('counts a key set to a new value once, with the new value', () => {
    expect(annotationsSize({ a: 'xxxx', b: 'y' }, { key: 'a', value: 'z' })).toBe(2 + 2);
    expect(annotationsSize({ b: 'y' }, { key: 'a', value: 'zz' })).toBe(2 + 3);
    expect(annotationsSize(undefined, { key: 'a', value: 'zz' })).toBe(3);
  });
});

describe('protobuf field sizes', () => {
  it('take a tag, a varint length and the UTF-8 bytes', () => {
    expect(stringFieldSize('')).toBe(2 + 1);
    expect(stringFieldSize('x'.repeat(127))).toBe(2 + 1 + 127);
    expect(stringFieldSize('x'.repeat(128))).toBe(2 + 2 + 128);
    expect(stringFieldSize('x'.repeat(16_384))).toBe(2 + 3 + 16_384);
    expect(stringFieldSize('é')).toBe(2 + 1 + 2);
  });

  it('store a map entry as a message of key and value', () => {
    expect(mapEntrySize('a', 'b')).toBe(2 + 1 + stringFieldSize('a') + stringFieldSize('b'));
  });

  it('count what a new field adds with the lengths around it', () => {
    expect(addedFieldSize('x')).toBeGreaterThan(stringFieldSize('x'));
  });
});

describe('storedSizeEstimate', () => {
  const pod = (extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', labels: { app: 'web' }, ...extra },
    spec: { containers: [{ name: 'c', image: 'quay.io/acme/app:1' }] },
  });

  it('leaves managedFields out: the API server drops them before refusing an object as too large', () => {
    const managedFields = [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': {} } } } }];
    expect(storedSizeEstimate(pod({ managedFields }))).toBe(storedSizeEstimate(pod()));
  });

  it('grows by exactly the bytes a string grows, until a length needs another byte', () => {
    const withArg = (n: number) => ({ ...pod(), spec: { containers: [{ name: 'c', image: 'i', args: ['x'.repeat(n)] }] } });
    expect(storedSizeEstimate(withArg(101)) - storedSizeEstimate(withArg(100))).toBe(1);
    expect(storedSizeEstimate(withArg(1_000_001)) - storedSizeEstimate(withArg(1_000_000))).toBe(1);
    expect(storedSizeEstimate(withArg(1_000_000))).toBeGreaterThan(1_000_000);
  });

  it('counts map keys as data, and struct field names not at all', () => {
    const base = storedSizeEstimate(pod());
    // A label key is stored; a key that cannot be a field name is stored wherever it appears.
    expect(storedSizeEstimate(pod({ labels: { app: 'web', ['k'.repeat(50)]: 'v' } })) - base).toBeGreaterThanOrEqual(50 + 3);
    const odd = { ...pod(), spec: { containers: [{ name: 'c', image: 'quay.io/acme/app:1', 'example.com/odd-key': 'v' }] } };
    expect(storedSizeEstimate(odd) - base).toBeGreaterThanOrEqual('example.com/odd-key'.length);
    // Field names: a longer name costs nothing more than a shorter one.
    const named = (name: string) => storedSizeEstimate({ ...pod(), spec: { containers: [{ name: 'c', image: 'quay.io/acme/app:1' }], [name]: 'v' } });
    expect(named('terminationGracePeriodSecondsLongName')).toBe(named('x'));
  });

  it('counts UTF-8 bytes, as Go stores strings', () => {
    expect(storedSizeEstimate(pod({ annotations: { a: 'é'.repeat(20) } })) - storedSizeEstimate(pod({ annotations: { a: 'e'.repeat(20) } }))).toBe(20);
  });
});

describe('storedSizeBound', () => {
  it('is never below storedSizeEstimate, whatever the JSON', () => {
    const key = fc.oneof(
      fc.constantFrom('metadata', 'managedFields', 'labels', 'annotations', 'limits', 'spec', 'containers', 'name', 'image', 'app', 'example.com/x'),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    const value = [fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.double(), fc.boolean(), fc.constant(null)];
    fc.assert(
      fc.property(fc.object({ key, values: value, maxDepth: 4, maxKeys: 6 }), (pod) => {
        expect(storedSizeBound(pod)).toBeGreaterThanOrEqual(storedSizeEstimate(pod));
      }),
      { numRuns: 1000 },
    );
  });

  it('stays within a few times the estimate on a real Pod', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'my-app', labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'quay.io/acme/web:1', resources: { limits: { cpu: '1' } }, terminationMessagePath: '/dev/termination-log' }] },
      status: { phase: 'Pending', qosClass: 'Burstable' },
    };
    expect(storedSizeBound(pod) / storedSizeEstimate(pod)).toBeLessThan(8);
  });
});
