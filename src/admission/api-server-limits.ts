// The API server's size limits that pullgate's patch can push a Pod past, measured the way the
// API server measures them. Pure; used by mutate-pod.ts to keep its promise never to block a Pod.
//
// - Annotations: k8s.io/apimachinery ValidateAnnotationsSize, the sum of the byte lengths of every
//   key and value, at most TotalAnnotationSizeLimitB = 256 KiB (262144 bytes, that many allowed).
// - The stored object: etcd refuses a write whose request passes --max-request-bytes (default
//   1.5 MiB = 1572864 bytes), and the API server then answers 413 "etcdserver: request is too
//   large". Pods are stored as protobuf, not the JSON pullgate sees, so the size is estimated from
//   above (storedSizeEstimate). Before giving up, the API server drops managedFields and retries,
//   so they are left out. The 3 MiB request-body limit applies to what clients send, not to the
//   object after admission, so a patch cannot reach it.

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
function isFieldName(key: string): boolean {
  const first = key.charCodeAt(0);
  if (!(first >= 0x61 && first <= 0x7a)) return false;
  for (let i = 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (!((code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || (code >= 0x30 && code <= 0x39))) return false;
  }
  return true;
}

/**
 * UTF-8 length, as Go stores strings (a lone surrogate becomes U+FFFD, 3 bytes). A loop rather
 * than Buffer.byteLength: a Pod's strings are short, and a native call for each costs more.
 */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two UTF-16 units, four bytes.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

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

/** Bytes a string field takes. */
export function stringFieldSize(text: string): number {
  return delimited(utf8Length(text));
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

// Past this depth the coarse bound (iterative, never below the estimate) stands in: a Pod may nest
// values deeper than the call stack goes.
const MAX_ESTIMATE_DEPTH = 256;

function valueSize(value: unknown, isMap: boolean, depth = 0): number {
  if (depth > MAX_ESTIMATE_DEPTH) return boundOf(value);
  // if/else on typeof rather than a switch: V8 optimizes the comparison form best.
  if (typeof value === 'string') return stringFieldSize(value);
  if (typeof value === 'object') {
    if (value === null) return NULL_FIELD;
    if (Array.isArray(value)) {
      let total = 0;
      for (let i = 0; i < value.length; i++) total += valueSize(value[i], false, depth + 1);
      return total;
    }
    return delimited(objectContentSize(value as Record<string, unknown>, isMap, undefined, depth + 1));
  }
  if (typeof value === 'boolean') return TAG + 1;
  // A varint takes at most ten bytes (a negative int is sign-extended to all ten); a double eight.
  if (typeof value === 'number') return TAG + (Number.isInteger(value) && value >= 0 ? Math.min(varintSize(value), 10) : 10);
  return 0;
}

function objectContentSize(object: Record<string, unknown>, isMap: boolean, skip?: string, depth = 0): number {
  let total = isMap ? 0 : MESSAGE_SLACK;
  for (const key in object) {
    if (key === skip || !Object.hasOwn(object, key)) continue;
    const value = object[key];
    if (isMap || !isFieldName(key)) {
      total += delimited(stringFieldSize(key) + valueSize(value, false, depth + 1));
    } else {
      const childIsMap = MAP_MEMBERS.has(key) && typeof value === 'object' && value !== null && !Array.isArray(value);
      total += childIsMap ? objectContentSize(value as Record<string, unknown>, true, undefined, depth + 1) : valueSize(value, false, depth + 1);
    }
  }
  return total;
}

/**
 * An upper bound of the bytes the API server writes to etcd for `pod` (protobuf), computed from
 * its JSON form and leaving managedFields out (see above). For the Pods that matter here it is
 * 5 to 15% above the real size (test/e2e/pod-limits.test.ts compares the two).
 */
export function storedSizeEstimate(pod: Record<string, unknown>): number {
  let total = ENVELOPE;
  for (const key in pod) {
    if (!Object.hasOwn(pod, key) || key === 'apiVersion' || key === 'kind') continue;
    const value = pod[key];
    total += key === 'metadata' && typeof value === 'object' && value !== null && !Array.isArray(value)
      ? delimited(objectContentSize(value as Record<string, unknown>, false, 'managedFields'))
      : valueSize(value, false);
  }
  return total;
}

// Bounds of delimited() for the quick bound: a tag and a varint length of at most five bytes.
const MAX_FRAMING = TAG + 5;

/**
 * A coarser upper bound, never below storedSizeEstimate (a few times it), for a fraction of the
 * work: three bytes for every UTF-16 unit (UTF-8 takes at most that), every key counted as a map
 * key, no varint worked out, managedFields included. It settles the question for all but large Pods.
 */
export function storedSizeBound(pod: Record<string, unknown>): number {
  return ENVELOPE + boundOf(pod);
}

// Iterative: a Pod may nest values deeper than the call stack goes (the API server accepts it).
function boundOf(root: unknown): number {
  let total = 0;
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') total += MAX_FRAMING + 3 * value.length;
    else if (typeof value === 'object') {
      if (value === null) total += NULL_FIELD;
      else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) pending.push(value[i]);
      else {
        total += MAX_FRAMING + MESSAGE_SLACK;
        // Inherited members, if any, only add to a bound: no own-property check needed.
        for (const key in value) {
          total += 2 * MAX_FRAMING + 3 * key.length;
          pending.push((value as Record<string, unknown>)[key]);
        }
      }
    } else total += TAG + 10;
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
