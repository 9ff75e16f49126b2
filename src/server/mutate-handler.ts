import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit, type AdmissionContext } from '../admission/admit.ts';
import { allowed, reviewOf } from '../admission/response.ts';
import { decodeReview, type DecodedReview } from '../admission/review.ts';
import { unredacted, type Logger } from '../logger.ts';
import { HttpError } from '../errors.ts';
import { jsonParseErrorReason } from '../util/redact.ts';
import { InFlightBytes } from './in-flight-bytes.ts';
import { locationLabel, operationLabel, type Metrics } from './metrics.ts';
import { declaredLength, isJsonContentType, readBody } from './read-body.ts';

export interface MutateHandlerOptions {
  admission: AdmissionContext;
  logger: Logger;
  metrics: Metrics;
  /** Largest review accepted, in bytes. */
  bodyLimit: number;
  /** Body bytes of the reviews handled at once (default DEFAULT_IN_FLIGHT_FACTOR × bodyLimit); at least bodyLimit. */
  maxInFlightBytes?: number;
}

/**
 * The default in-flight bound as a multiple of the body limit: one review at the limit, and a
 * quarter as much in smaller ones beside it (two ordinary UPDATEs at the API server's limits, 4.5
 * MiB each, fit together). Two reviews at the limit of the costliest shape, thousands of containers
 * to rewrite, peak at about 250 MiB above idle (bench/review-size.ts): past the shipped 256 MiB
 * memory limit. See README, Limits.
 */
export const DEFAULT_IN_FLIGHT_FACTOR = 1.25;
/** The API server keeps at most 4 KiB of warnings per request; the rest would only cost memory. */
export const WARNINGS_BUDGET = 4096;
/** Rewrites listed on one log line; a Pod with more says how many were left out. */
const LOGGED_REWRITES = 20;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `warnings` cut to what the API server passes on, with a last one saying how many were left out. */
export function capWarnings(warnings: string[]): string[] {
  let total = 0;
  for (const w of warnings) total += w.length;
  if (total <= WARNINGS_BUDGET) return warnings;
  const kept: string[] = [];
  // Room for the closing line, which is under 64 characters.
  total = 64;
  for (const w of warnings) {
    if (total + w.length > WARNINGS_BUDGET) break;
    kept.push(w);
    total += w.length;
  }
  kept.push(`pullgate: ${warnings.length - kept.length} more warnings not shown`);
  return kept;
}

/**
 * `POST /mutate`, kept off express's router and body parser: this is the hot path, and the two
 * together cost about two thirds of its throughput (`bench/admission-throughput.ts` measures it).
 *
 * Memory is bounded twice: one review by `bodyLimit`, all of them together by `maxInFlightBytes`
 * (a review's Content-Length, or the limit for one without, is held from its headers until its
 * answer is sent). Past that bound a review is refused at once with 429 and Retry-After.
 */
export function createMutateHandler(options: MutateHandlerOptions) {
  const { admission, logger, metrics, bodyLimit } = options;
  const decisions = unredacted(logger);
  const inFlight = new InFlightBytes(options.maxInFlightBytes ?? Math.floor(DEFAULT_IN_FLIGHT_FACTOR * bodyLimit));
  if (inFlight.limit < bodyLimit) throw new RangeError(`the in-flight byte limit (${inFlight.limit}) is below the body limit (${bodyLimit}): a review at the limit could never be handled`);
  metrics.scraped.inFlightBytes = () => inFlight.used;

  function refuse(res: ServerResponse, err: unknown, bytes: number | undefined): void {
    const error = err instanceof HttpError ? err : new HttpError('BODY_READ_FAILED');
    metrics.rejectedRequests.inc({ code: error.code });
    logger.warn({ code: error.code, status: error.status, err: error.message, bytes }, 'admission request refused');
    // An oversized body is not read to the end: close the connection rather than drain it. Any
    // other unread body (a wrong content type, a refusal under load) is drained by Node, which
    // keeps the connection for the API server's pool.
    if (error.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
    if (error.retryAfterSeconds !== undefined) res.setHeader('retry-after', error.retryAfterSeconds);
    sendJson(res, error.status, { code: error.code, message: error.message });
  }

  async function decide(req: IncomingMessage, res: ServerResponse, started: number, declared: number | undefined): Promise<void> {
    let review: DecodedReview;
    let bytes: number | undefined = declared;
    try {
      // Each form of the body is dropped as soon as the next exists: the buffer once it is text,
      // the text once it is parsed, so a large review is never held three times over.
      let body: Buffer | undefined = await readBody(req, bodyLimit, declared);
      bytes = body.length;
      metrics.reviewBytes.observe(bytes);
      if (bytes === 0) throw new HttpError('EMPTY_BODY');
      let text: string | undefined = body.toString('utf8');
      body = undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new HttpError('MALFORMED_JSON', jsonParseErrorReason((err as Error).message));
      }
      text = undefined;
      review = decodeReview(parsed);
    } catch (err) {
      refuse(res, err, bytes);
      return;
    }

    const { request } = review;
    const operation = operationLabel(request.operation, request.subResource);
    try {
      const result = await admit(request, admission);
      const seconds = (performance.now() - started) / 1000;
      const { response } = result;
      if (response.warnings !== undefined) response.warnings = capWarnings(response.warnings);
      metrics.admissions.inc({ operation, decision: result.decision });
      metrics.admissionSeconds.observe({ operation }, seconds);
      const rewrites = result.mutation?.rewrites ?? [];
      for (const rewrite of rewrites) metrics.imagesRewritten.inc({ location: locationLabel(rewrite.key) });
      metrics.warnings.inc(response.warnings?.length ?? 0);
      decisions.info(
        {
          reqId: request.uid,
          namespace: request.namespace,
          name: request.name,
          operation: request.subResource ? `${request.operation}/${request.subResource}` : request.operation,
          dryRun: request.dryRun === true,
          decision: result.decision,
          bytes,
          rewrites: result.mutation ? rewrites.slice(0, LOGGED_REWRITES).map((r) => ({ at: r.key, from: r.from, to: r.to })) : undefined,
          rewritesNotLogged: rewrites.length > LOGGED_REWRITES ? rewrites.length - LOGGED_REWRITES : undefined,
          warnings: response.warnings,
          secretError: result.secretError?.message,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'admission decided',
      );
      sendJson(res, 200, reviewOf(review.apiVersion, response));
    } catch (err) {
      // A defect in pullgate must not block the cluster's workloads: admit unchanged and say so.
      logger.error({ reqId: request.uid, err: (err as Error).message, stack: (err as Error).stack }, 'admission failed; admitting unchanged');
      metrics.admissions.inc({ operation, decision: 'error' });
      sendJson(res, 200, reviewOf(review.apiVersion, allowed(request.uid, ['pullgate: internal error, Pod admitted unchanged'])));
    }
  }

  return async function handleMutate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const declared = declaredLength(req);
    if (!isJsonContentType(req.headers['content-type'])) {
      refuse(res, new HttpError('UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type'] ?? 'none')), declared);
      return;
    }
    if (declared !== undefined && declared > bodyLimit) {
      metrics.reviewBytes.observe(declared);
      refuse(res, new HttpError('BODY_TOO_LARGE', `${declared} bytes, limit ${bodyLimit}`), declared);
      return;
    }
    // A body without a Content-Length may grow to the limit: it holds that much until it is read.
    const reserved = declared ?? bodyLimit;
    if (!inFlight.tryTake(reserved)) {
      refuse(res, new HttpError('BUSY', `${inFlight.used} bytes in progress, limit ${inFlight.limit}`), declared);
      return;
    }
    try {
      await decide(req, res, started, declared);
    } finally {
      inFlight.release(reserved);
    }
  };
}
