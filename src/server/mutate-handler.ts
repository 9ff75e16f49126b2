import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit, type AdmissionContext } from '../admission/admit.ts';
import { allowed, reviewOf } from '../admission/response.ts';
import { decodeReview, type DecodedReview } from '../admission/review.ts';
import type { Logger } from '../logger.ts';
import { HttpError } from '../errors.ts';
import { jsonParseErrorReason } from '../util/redact.ts';
import type { Metrics } from './metrics.ts';
import { isJsonContentType, readBody } from './read-body.ts';

export interface MutateHandlerOptions {
  admission: AdmissionContext;
  logger: Logger;
  metrics: Metrics;
  bodyLimit: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function decode(req: IncomingMessage, bodyLimit: number): Promise<DecodedReview> {
  if (!isJsonContentType(req.headers['content-type'])) throw new HttpError('UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type'] ?? 'none'));
  const body = await readBody(req, bodyLimit);
  if (body.length === 0) throw new HttpError('EMPTY_BODY');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError('MALFORMED_JSON', jsonParseErrorReason((err as Error).message));
  }
  return decodeReview(parsed);
}

/**
 * `POST /mutate`, kept off express's router and body parser: this is the hot path, and the two
 * together cost about two thirds of its throughput (see DESIGN.md, performance facts).
 */
export function createMutateHandler(options: MutateHandlerOptions) {
  const { admission, logger, metrics, bodyLimit } = options;
  return async function handleMutate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let review: DecodedReview;
    try {
      review = await decode(req, bodyLimit);
    } catch (err) {
      const error = err instanceof HttpError ? err : new HttpError('BODY_READ_FAILED');
      metrics.rejectedRequests.inc({ code: error.code });
      logger.warn({ code: error.code, status: error.status, err: error.message }, 'admission request refused');
      // An oversized body is not read to the end: close the connection rather than drain it.
      if (error.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
      sendJson(res, error.status, { code: error.code, message: error.message });
      return;
    }

    const { request } = review;
    const log = logger.child({ reqId: request.uid });
    const operation = request.subResource ? `${request.operation}/${request.subResource}` : String(request.operation);
    try {
      const result = await admit(request, admission);
      const seconds = (performance.now() - started) / 1000;
      metrics.admissions.inc({ operation, decision: result.decision });
      metrics.admissionSeconds.observe({ operation }, seconds);
      for (const rewrite of result.mutation?.rewrites ?? []) metrics.imagesRewritten.inc({ location: rewrite.key.split('/', 1)[0]! });
      metrics.warnings.inc(result.response.warnings?.length ?? 0);
      log.info(
        {
          namespace: request.namespace,
          name: request.name,
          operation,
          dryRun: request.dryRun === true,
          decision: result.decision,
          rewrites: result.mutation?.rewrites.map((r) => ({ at: r.key, from: r.from, to: r.to })),
          warnings: result.response.warnings,
          secretError: result.secretError?.message,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'admission decided',
      );
      sendJson(res, 200, reviewOf(review.apiVersion, result.response));
    } catch (err) {
      // A defect in pullgate must not block the cluster's workloads: admit unchanged and say so.
      log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'admission failed; admitting unchanged');
      metrics.admissions.inc({ operation, decision: 'error' });
      sendJson(res, 200, reviewOf(review.apiVersion, allowed(request.uid, ['pullgate: internal error, Pod admitted unchanged'])));
    }
  };
}
