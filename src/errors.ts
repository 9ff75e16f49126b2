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
  INVALID_FIELD: { status: 400, message: 'AdmissionReview field has the wrong type or length' },
  BODY_READ_FAILED: { status: 400, message: 'request body could not be read' },
  // 429 and not 503: the refusal is about the load the clients send right now, not about
  // pullgate's health. The API server's client retries either after Retry-After within the
  // webhook's timeout, and past that applies the webhook's failurePolicy (README, Limits).
  BUSY: { status: 429, message: 'too many admission request bytes in progress; retry shortly', retryAfterSeconds: 1 },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** Every catalog code, for metric labels: nothing else may become one. */
export const ERROR_CODES = Object.keys(ERRORS) as readonly ErrorCode[];

export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before trying again, for refusals that are about load. */
  readonly retryAfterSeconds: number | undefined;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message);
    this.name = 'HttpError';
    this.code = code;
    const entry: { status: number; retryAfterSeconds?: number } = ERRORS[code];
    this.status = entry.status;
    this.retryAfterSeconds = entry.retryAfterSeconds;
  }
}
