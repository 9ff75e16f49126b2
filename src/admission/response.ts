import type { Operation } from 'fast-json-patch';
import type { ReviewVersion } from './review.ts';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

function withWarnings(response: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  return warnings.length > 0 ? { ...response, warnings: [...warnings] } : response;
}

/** Admit unchanged. pullgate never denies: a Pod it cannot handle goes through with a warning. */
export function allowed(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: true }, warnings);
}

/** Admit with a JSON patch; `patchType` is only set when there is a patch, as the API server expects. */
export function patched(uid: string, patch: readonly Operation[], warnings: readonly string[] = []): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, warnings);
  const encoded = Buffer.from(JSON.stringify(patch)).toString('base64');
  return withWarnings({ uid, allowed: true, patchType: 'JSONPatch', patch: encoded }, warnings);
}

/** The review envelope, in the version the request came in. */
export function reviewOf(apiVersion: ReviewVersion, response: AdmissionResponse) {
  return { apiVersion, kind: 'AdmissionReview', response };
}
