import { HttpError } from '../errors.ts';
import { isRecord } from '../util/is-record.ts';

export const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewVersion = (typeof REVIEW_VERSIONS)[number];

/** The fields of an AdmissionReview request that pullgate reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  operation?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface DecodedReview {
  apiVersion: ReviewVersion;
  request: AdmissionRequest;
}


/** Validates the envelope of an AdmissionReview; the Pod inside is checked later, by the mutation. */
export function decodeReview(body: unknown): DecodedReview {
  if (!isRecord(body) || body.kind !== 'AdmissionReview' || !REVIEW_VERSIONS.includes(body.apiVersion as ReviewVersion)) {
    throw new HttpError('NOT_ADMISSION_REVIEW');
  }
  const request = body.request;
  if (!isRecord(request)) throw new HttpError('NOT_ADMISSION_REVIEW', 'request is missing');
  if (typeof request.uid !== 'string' || request.uid === '') throw new HttpError('MISSING_UID');
  return { apiVersion: body.apiVersion as ReviewVersion, request: request as unknown as AdmissionRequest };
}
