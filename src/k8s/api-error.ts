import { ApiException } from '@kubernetes/client-node';

/** HTTP status of a failed API call, when the API server answered. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * A short, credential-free description of a failed API call. The client's own message embeds the
 * whole response body and headers; the Status reason and message are all a user needs.
 */
export function describeApiError(action: string, err: unknown): Error {
  if (err instanceof ApiException) {
    let detail = '';
    try {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
        detail = `: ${(body as { message: string }).message}`;
      }
    } catch {
      // The body was not a Status; the code alone will do.
    }
    return new Error(`${action} failed with HTTP ${err.code}${detail}`);
  }
  return new Error(`${action} failed: ${(err as Error).message ?? String(err)}`);
}
