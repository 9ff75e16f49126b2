import { ApiException } from '@kubernetes/client-node';

/**
 * How a Kubernetes API call failed: the API server answered with an error status ('http'), gave no
 * answer within the deadline ('timeout'), was not sent because too many calls were already
 * waiting ('saturated'), or failed without an answer (unreachable, connection reset: 'network').
 */
export type ApiCallErrorKind = 'http' | 'timeout' | 'saturated' | 'network';

/**
 * A failed API call, described by what was attempted, on which object, the HTTP status and the
 * Status `reason` only. Never the Status message (an admission policy's message can echo part of
 * the object sent, a Secret's data included) and never the client's own message (it embeds the
 * whole response body and headers); no `cause` either, since loggers print it.
 */
export class ApiCallError extends Error {
  readonly kind: ApiCallErrorKind;
  readonly status?: number;
  readonly reason?: string;
  constructor(kind: ApiCallErrorKind, message: string, details: { status?: number; reason?: string } = {}) {
    super(message);
    this.name = 'ApiCallError';
    this.kind = kind;
    if (details.status !== undefined) this.status = details.status;
    if (details.reason !== undefined) this.reason = details.reason;
  }
}

/** HTTP status of a failed API call, when the API server answered. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiCallError) return err.status;
  return err instanceof ApiException ? err.code : undefined;
}

/** A Status reason is a CamelCase word ("Conflict", "AlreadyExists"); anything else is not shown. */
const REASON = /^[A-Za-z]{1,64}$/;
/** A system error code ("ECONNREFUSED", "UND_ERR_SOCKET"); anything else is not shown. */
const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

function statusReason(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const reason = typeof parsed === 'object' && parsed !== null ? (parsed as { reason?: unknown }).reason : undefined;
  return typeof reason === 'string' && REASON.test(reason) ? reason : undefined;
}

/** The first system error code along the cause chain (fetch hides it under "fetch failed"). */
function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && ERROR_CODE.test(code)) return code;
  }
  return undefined;
}

/**
 * The ApiCallError for a failed call `what` ("reading secret ns/name"). A budget's own error
 * (timeout, saturation) keeps its kind and detail and gains the description of the call.
 */
export function apiCallError(what: string, err: unknown): ApiCallError {
  if (err instanceof ApiCallError) {
    return new ApiCallError(err.kind, `${what} failed: ${err.message}`, { ...(err.status !== undefined ? { status: err.status } : {}), ...(err.reason !== undefined ? { reason: err.reason } : {}) });
  }
  if (err instanceof ApiException) {
    const reason = statusReason(err.body);
    return new ApiCallError('http', `${what} failed with HTTP ${err.code}${reason ? ` (${reason})` : ''}`, { status: err.code, ...(reason ? { reason } : {}) });
  }
  const code = errorCode(err);
  return new ApiCallError('network', `${what} failed without an answer from the API server${code ? ` (${code})` : ''}`);
}

/** A credential-free description of a failed API call (see ApiCallError). */
export function describeApiError(action: string, err: unknown): Error {
  return apiCallError(action, err);
}
