// The API server's size limits that pullgate's patch can push a Pod past, measured the way the
// API server measures them. Pure; used by mutate-pod.ts to keep its promise never to block a Pod.
//
// - Annotations: k8s.io/apimachinery ValidateAnnotationsSize, the sum of the byte lengths of every
//   key and value, at most TotalAnnotationSizeLimitB = 256 KiB (262144 bytes, that many allowed).
// - The stored object: etcd refuses a write whose request passes --max-request-bytes (default
//   1.5 MiB = 1572864 bytes), and the API server then answers 413 "Request entity too large".
//   Pods are stored as protobuf, which is not the JSON pullgate sees, so the size is estimated
//   from above (storedSizeEstimate). Before giving up, the API server drops managedFields and
//   retries, so they are left out. The 3 MiB request-body limit applies to what clients send,
//   not to the object after admission, so it cannot be reached through a patch.

/** ValidateAnnotationsSize's limit, in bytes; a total of exactly this many is allowed. */
export const ANNOTATIONS_SIZE_LIMIT = 256 * 1024;

/** etcd's default --max-request-bytes: the largest write request it accepts. */
export const ETCD_REQUEST_LIMIT = 1.5 * 1024 * 1024;

/**
 * What is left of ETCD_REQUEST_LIMIT for the Pod: the rest goes to the etcd request around it
 * (key, transaction, header: under 1 KiB) and to encryption at rest where it is on (an envelope
 * of at most a few KiB with KMS).
 */
export const STORED_OBJECT_BUDGET = ETCD_REQUEST_LIMIT - 16 * 1024;

// The protobuf encoding bounded here is Kubernetes' (gogo): every field is a tag of at most two
// bytes (field numbers stay under 2048), a varint length, then the bytes; maps are repeated
// key/value entries; non-pointer fields are written even when JSON omits them (empty strings,
// false, zero, empty structs), which MESSAGE_SLACK covers for each message.
const TAG = 2;
const MESSAGE_SLACK = 8;
/** The length varints of the messages around a field (a container, the spec, the Pod) that may grow. */
export const ENCLOSING_LENGTHS = 4;
/** A JSON null is a non-pointer struct (creationTimestamp: null), written as an empty message. */
const NULL_FIELD = 8;
/** The `k8s\0` envelope with apiVersion and kind (runtime.Unknown). */
const ENVELOPE = 128;

/**
 * Object members that are Go maps (map[string]string, ResourceList) in a Pod, whose keys are
 * stored as data, unlike struct field names, which become numbered tags.
 */
const MAP_MEMBERS: ReadonlySet<string> = new Set([
  'labels', 'annotations', 'nodeSelector', 'overhead', 'limits', 'requests', 'allocatedResources',
  'volumeAttributes', 'options', 'matchLabels', 'capacity', 'allocatable', 'attributes', 'parameters',
]);
/** Struct field names are lowerCamelCase identifiers; any other key can only be map data. */
const FIELD_NAME = /^[a-z][A-Za-z0-9]*$/;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** A length-delimited field (string, bytes, message) of `content` bytes, tag included. */
function delimited(content: number): number {
  return TAG + varintSize(content) + content;
}

/** Bytes a string field takes: UTF-8, as Go stores it (a lone surrogate becomes 3 bytes, U+FFFD, in both). */
export function stringFieldSize(text: string): number {
  return delimited(Buffer.byteLength(text, 'utf8'));
}

/** Bytes one map entry takes. */
export function mapEntrySize(key: string, value: unknown): number {
  return delimited(stringFieldSize(key) + valueSize(value, false));
}

/**
 * Bytes a new field or list item holding `value` adds to the stored Pod, including the lengths of
 * the messages around it, each of which may take one more byte.
 */
export function addedFieldSize(value: unknown): number {
  return valueSize(value, false) + ENCLOSING_LENGTHS;
}

function valueSize(value: unknown, inMap: boolean): number {
  switch (typeof value) {
    case 'string':
      return stringFieldSize(value);
    case 'boolean':
      return TAG + 1;
    case 'number':
      // A negative int is sign-extended to ten bytes; a double takes eight.
      return TAG + (Number.isInteger(value) && value >= 0 ? varintSize(value) : 10);
    case 'object':
      if (value === null) return NULL_FIELD;
      if (Array.isArray(value)) {
        let total = 0;
        for (const item of value) total += valueSize(item, false);
        return total;
      }
      return delimited(objectContentSize(value as Record<string, unknown>, inMap));
    default:
      return 0;
  }
}

function objectContentSize(object: Record<string, unknown>, isMap: boolean): number {
  let total = isMap ? 0 : MESSAGE_SLACK;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const value = object[key];
    if (isMap || !FIELD_NAME.test(key)) {
      total += mapEntrySize(key, value);
    } else {
      const childIsMap = MAP_MEMBERS.has(key) && typeof value === 'object' && value !== null && !Array.isArray(value);
      total += childIsMap ? objectContentSize(value as Record<string, unknown>, true) : valueSize(value, false);
    }
  }
  return total;
}

/**
 * An upper bound of the bytes the API server writes to etcd for `pod` (protobuf), computed from
 * its JSON form and leaving managedFields out (see above). For the Pods that matter here it is
 * within a few per cent above the real size (test/e2e/pod-limits.test.ts compares the two).
 */
export function storedSizeEstimate(pod: Record<string, unknown>): number {
  let total = ENVELOPE;
  for (const key in pod) {
    if (!Object.hasOwn(pod, key)) continue;
    const value = pod[key];
    if (key === 'metadata' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const { managedFields: _, ...metadata } = value as Record<string, unknown>;
      total += delimited(objectContentSize(metadata, false));
    } else if (key !== 'apiVersion' && key !== 'kind') {
      total += valueSize(value, false);
    }
  }
  return total;
}

/**
 * ValidateAnnotationsSize's total for `annotations`, with `set.key` given `set.value` (added or
 * replaced) when `set` is given.
 */
export function annotationsSize(annotations: Record<string, unknown> | undefined, set?: { key: string; value: string }): number {
  let total = 0;
  for (const name in annotations) {
    if (!Object.hasOwn(annotations, name) || name === set?.key) continue;
    const value = annotations[name];
    total += Buffer.byteLength(name, 'utf8') + (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  }
  if (set) total += Buffer.byteLength(set.key, 'utf8') + Buffer.byteLength(set.value, 'utf8');
  return total;
}
