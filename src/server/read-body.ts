import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';

/** The API server sends objects of at most 3 MiB; an UPDATE review carries two of them. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * Reads the whole body, refusing it as soon as it passes `limit` bytes, so an oversized request
 * costs at most `limit` bytes of memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError('BODY_TOO_LARGE', `${declared} bytes, limit ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new HttpError('BODY_TOO_LARGE', `more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', () => reject(new HttpError('BODY_READ_FAILED')));
  });
}
