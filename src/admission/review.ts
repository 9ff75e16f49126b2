import { HttpError } from '../errors.ts';
import { isRecord } from '../util/is-record.ts';

export const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewVersion = (typeof REVIEW_VERSIONS)[number];

/**
 * The longest string pullgate accepts in a field it reads: a DNS subdomain (object names, API
 * groups). What the API server sends is shorter still (UIDs, namespaces, operations); anything
 * longer is not from it, and would only lengthen logs.
 */
export const MAX_FIELD_LENGTH = 253;

/** The fields of an AdmissionReview request that pullgate reads, checked by decodeReview. */
export interface AdmissionRequest {
  uid: string;
  operation: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  /** A JSON object, present on CREATE and UPDATE. */
  object?: Record<string, unknown>;
  /** A JSON object, present on UPDATE and DELETE. */
  oldObject?: Record<string, unknown>;
  dryRun?: boolean;
}

export interface DecodedReview {
  apiVersion: ReviewVersion;
  request: AdmissionRequest;
}

/** What a value is, for an error message: its type and size, never its content. */
function described(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function invalid(path: string, expected: string, value: unknown): HttpError {
  return new HttpError('INVALID_FIELD', `${path}: expected ${expected}, got ${described(value)}`);
}

const STRING = `a string of at most ${MAX_FIELD_LENGTH} characters`;
const NON_EMPTY_STRING = `a non-empty string of at most ${MAX_FIELD_LENGTH} characters`;

function isField(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_FIELD_LENGTH;
}

/** An optional string: absent and null (as Kubernetes' own decoders read it) are undefined. */
function optionalString(parent: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isField(value)) throw invalid(path, STRING, value);
  return value;
}

/** A JSON object; `requiredFor` names the operation that must carry it, else null and absent are undefined. */
function object(request: Record<string, unknown>, key: 'object' | 'oldObject', requiredFor: string | undefined): Record<string, unknown> | undefined {
  const value = request[key];
  if (isRecord(value)) return value;
  if (requiredFor !== undefined) throw invalid(`request.${key}`, `an object (required for ${requiredFor})`, value);
  if (value !== undefined && value !== null) throw invalid(`request.${key}`, 'an object or null', value);
  return undefined;
}

function groupVersion<K extends 'kind' | 'resource'>(request: Record<string, unknown>, key: K): Record<'group' | 'version' | K, string | undefined> | undefined {
  const value = request[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalid(`request.${key}`, 'an object', value);
  return {
    group: optionalString(value, 'group', `request.${key}.group`),
    version: optionalString(value, 'version', `request.${key}.version`),
    [key]: optionalString(value, key, `request.${key}.${key}`),
  } as Record<'group' | 'version' | K, string | undefined>;
}

/**
 * Validates the envelope of an AdmissionReview and the type of every request field pullgate reads,
 * so a wrong type is a 400 naming the field, never a failure further on. Only types and lengths are
 * checked, never by walking a value: a field nested 100,000 deep costs what any other wrong type
 * does. The Pod inside is checked later, by the mutation.
 */
export function decodeReview(body: unknown): DecodedReview {
  if (!isRecord(body) || body.kind !== 'AdmissionReview' || !REVIEW_VERSIONS.includes(body.apiVersion as ReviewVersion)) {
    throw new HttpError('NOT_ADMISSION_REVIEW');
  }
  const request = body.request;
  if (!isRecord(request)) throw new HttpError('NOT_ADMISSION_REVIEW', 'request is missing');
  const { uid, operation, dryRun } = request;
  if (uid === undefined || uid === null || uid === '') throw new HttpError('MISSING_UID');
  if (!isField(uid)) throw invalid('request.uid', STRING, uid);
  if (!isField(operation) || operation === '') throw invalid('request.operation', NON_EMPTY_STRING, operation);
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean') throw invalid('request.dryRun', 'a boolean', dryRun);
  const writes = operation === 'CREATE' || operation === 'UPDATE';
  return {
    apiVersion: body.apiVersion as ReviewVersion,
    request: {
      uid,
      operation,
      kind: groupVersion(request, 'kind'),
      resource: groupVersion(request, 'resource'),
      subResource: optionalString(request, 'subResource', 'request.subResource'),
      namespace: optionalString(request, 'namespace', 'request.namespace'),
      name: optionalString(request, 'name', 'request.name'),
      // The API server sends the object on CREATE and UPDATE and the stored one on UPDATE (DELETE
      // has only the stored one, CONNECT its options): a review without them is not from it.
      object: object(request, 'object', writes ? operation : undefined),
      oldObject: object(request, 'oldObject', operation === 'UPDATE' ? operation : undefined),
      dryRun: dryRun ?? undefined,
    },
  };
}
