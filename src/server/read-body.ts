import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';

/**
 * The largest review accepted. Measured against the API server (test/e2e/review-size.test.ts):
 * its request limit is 3 MiB, a Pod of ordinary content at that limit arrives as a 3.0 MiB CREATE
 * review, and an UPDATE of it over the largest Pod etcd stores (1.5 MiB) as a 4.5 MiB one; 8 MiB
 * leaves 44% of margin over that. Only inflation goes further (Go escapes `<` as six bytes,
 * defaulting fills in minimal containers at 15 times their size, protobuf requests at 35 times),
 * up to tens of MiB, and such reviews are refused with 413 (README, Limits).
 */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/** The Content-Length of a request, or undefined when it has none (a chunked body). */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  // Node has already refused a Content-Length that is not a decimal number.
  return header === undefined ? undefined : Number(header);
}

/**
 * Reads the whole body, refusing it as soon as it passes `limit` bytes, so an oversized request
 * costs at most `limit` bytes of memory. With a declared length (the caller has refused one over
 * the limit) the body is copied into one buffer of that size as it arrives, never held twice; a
 * body that arrives in one piece is not copied at all. Settles on every way a request can end:
 * complete, failed, or its connection closed (say by the server's request timeout) mid-body.
 */
export function readBody(req: IncomingMessage, limit: number, declared: number | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let target: Buffer | undefined;
    let size = 0;
    let settled = false;
    const fail = (error: HttpError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > limit) return fail(new HttpError('BODY_TOO_LARGE', `more than ${limit} bytes`));
      if (declared !== undefined && size === 0 && chunk.length !== declared) target = Buffer.allocUnsafe(declared);
      if (target) chunk.copy(target, size);
      else chunks.push(chunk);
      size += chunk.length;
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      if (target) resolve(size === target.length ? target : target.subarray(0, size));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // 'close' comes for every request, read or not: the error (and its stack trace) is made only
    // for one that ends unread.
    req.once('error', () => settled || fail(new HttpError('BODY_READ_FAILED')));
    req.once('close', () => settled || fail(new HttpError('BODY_READ_FAILED', 'connection closed before the body was complete')));
  });
}
