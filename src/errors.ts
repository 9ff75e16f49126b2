/**
 * The error catalog: every way a request to pullgate can be refused, with its HTTP status and a
 * stable code. Messages describe the request, never its content (a Pod may carry credentials).
 */
export const ERRORS = {
  BODY_TOO_LARGE: { status: 413, message: 'request body exceeds the limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'content type must be application/json' },
  EMPTY_BODY: { status: 400, message: 'request body is empty' },
  MALFORMED_JSON: { status: 400, message: 'request body is not valid JSON' },
  NOT_ADMISSION_REVIEW: { status: 400, message: 'body is not an AdmissionReview (admission.k8s.io/v1 or v1beta1)' },
  MISSING_UID: { status: 400, message: 'AdmissionReview has no request.uid' },
  BODY_READ_FAILED: { status: 400, message: 'request body could not be read' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message);
    this.name = 'HttpError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}
