// Large reviews, and many at once: one review is bounded by the body limit, all of them together by
// the in-flight byte limit (past it: 429 with Retry-After, counted), every reservation is given back
// however the request ends, answers and log lines stay small whatever the Pod, and /healthz keeps
// answering while a review at the limit is handled.
import { Agent } from 'node:https';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProgram, type ServeFlags } from '../../../src/cli/program.ts';
import { InFlightBytes } from '../../../src/server/in-flight-bytes.ts';
import { capWarnings, WARNINGS_BUDGET } from '../../../src/server/mutate-handler.ts';
import { DEFAULT_BODY_LIMIT } from '../../../src/server/read-body.ts';
import { eventually } from '../../support/eventually.ts';
import { postReview, send } from '../../support/http.ts';
import { pod, review } from '../../support/reviews.ts';
import { closedWithin, hostileServer, received, tlsClient, type Hostile } from './hostile-harness.ts';

const KiB = 1024;

let h: Hostile | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A valid Pod review of about `bytes` bytes: the Pod carries a large argument, as large Pods do. */
function reviewOfSize(bytes: number, uid = 'uid-size'): string {
  const base = review(pod('big', [{ name: 'a', image: 'quay.io/acme/a:1' }]), { uid });
  const empty = JSON.stringify(base).length + '"args":[""],'.length;
  const object = base.request.object as ReturnType<typeof pod>;
  (object.spec.containers[0] as Record<string, unknown>).args = ['x'.repeat(Math.max(0, bytes - empty))];
  return JSON.stringify(base);
}

const inFlight = async (x: Hostile) => Number(/^pullgate_admission_in_flight_bytes (\d+)$/m.exec(await x.scrape())?.[1]);
const rejected = async (x: Hostile, code: string) => Number(new RegExp(`^pullgate_rejected_requests_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(await x.scrape())?.[1] ?? 0);

/** Sends the headers of a POST /mutate declaring `length` bytes and `first` of its body, then holds. */
async function holdBody(x: Hostile, length: number | 'chunked', first: string) {
  const socket = await tlsClient(x);
  const text = received(socket);
  const framing = length === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${length}`;
  socket.write(`POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`);
  socket.write(length === 'chunked' ? `${first.length.toString(16)}\r\n${first}\r\n` : first);
  return { socket, text };
}

describe('the in-flight byte limit', () => {
  it('refuses a review that does not fit with 429 and Retry-After, counts it, and takes it once the bytes are free', async () => {
    h = await hostileServer({ bodyLimit: 64 * KiB, maxInFlightBytes: 100 * KiB });
    const held = await holdBody(h, 60 * KiB, '{"apiVersion"');
    await eventually('the held review counted in flight', async () => (await inFlight(h!)) === 60 * KiB, 5_000);

    // 60 KiB + 50 KiB > 100 KiB. Over a kept-alive connection, which survives the refusal.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: h.ca });
    try {
      const big = reviewOfSize(50 * KiB, 'uid-busy');
      const busy = await send(h.port, { method: 'POST', path: '/mutate', ca: h.ca, agent, headers: { 'content-type': 'application/json' }, body: big });
      expect(busy.status).toBe(429);
      expect(busy.headers['retry-after']).toBe('1');
      expect(busy.json()).toEqual({ code: 'BUSY', message: `too many admission request bytes in progress; retry shortly: ${60 * KiB} bytes in progress, limit ${100 * KiB}` });
      expect(busy.headers.connection).not.toBe('close');
      // A small review still fits beside the held one, on the same connection.
      const small = await send(h.port, { method: 'POST', path: '/mutate', ca: h.ca, agent, headers: { 'content-type': 'application/json' }, body: reviewOfSize(KiB, 'uid-small') });
      expect(small.status).toBe(200);
      expect(small.json().response.uid).toBe('uid-small');
      // A body without a length may grow to the body limit, and is held at that.
      const chunked = await send(h.port, { method: 'POST', path: '/mutate', ca: h.ca, headers: { 'content-type': 'application/json' }, chunks: [Buffer.from(reviewOfSize(KiB))] });
      expect(chunked.status).toBe(429);
      expect(await rejected(h, 'BUSY')).toBe(2);

      // The held review ends (malformed: it is not JSON); its bytes are free again.
      held.socket.end('x'.repeat(60 * KiB - '{"apiVersion"'.length));
      await eventually('the held review answered', () => /^HTTP\/1\.1 400 /.test(held.text()), 5_000);
      expect(await inFlight(h)).toBe(0);
      const retried = await send(h.port, { method: 'POST', path: '/mutate', ca: h.ca, agent, headers: { 'content-type': 'application/json' }, body: big });
      expect(retried.status).toBe(200);
      expect(retried.json().response.uid).toBe('uid-busy');
    } finally {
      agent.destroy();
    }
  });

  it('gives the bytes back when the client goes away mid-body, and when it is cut off by the request timeout', async () => {
    h = await hostileServer({ bodyLimit: 64 * KiB, maxInFlightBytes: 200 * KiB, limits: { headersTimeoutMs: 300, requestTimeoutMs: 500, timeoutCheckIntervalMs: 100 } });
    const gone = await holdBody(h, 60 * KiB, '{');
    // Without a length: held at the body limit.
    const chunked = await holdBody(h, 'chunked', '{');
    await eventually('both held', async () => (await inFlight(h!)) === 60 * KiB + 64 * KiB, 5_000);
    gone.socket.destroy();
    // The chunked one is left to the request timeout.
    await closedWithin(chunked.socket, 3_000);
    await eventually('every reservation given back', async () => (await inFlight(h!)) === 0, 5_000);
    expect(await rejected(h, 'BODY_READ_FAILED')).toBe(2);
    expect((await postReview(h.port, h.ca, reviewOfSize(60 * KiB))).status).toBe(200);
  });

  it('is at least the body limit, or no review at the limit could ever be handled', async () => {
    await expect(hostileServer({ bodyLimit: 64 * KiB, maxInFlightBytes: 32 * KiB })).rejects.toThrow(/below the body limit/);
    expect(() => new InFlightBytes(0)).toThrow(RangeError);
    const budget = new InFlightBytes(10);
    expect([budget.tryTake(6), budget.tryTake(5), budget.tryTake(4), budget.used]).toEqual([true, false, true, 10]);
    budget.release(6);
    expect([budget.used, budget.tryTake(6)]).toEqual([4, true]);
  });
});

describe('the body limit', () => {
  it('refuses a declared oversized body at once, logs its declared size, and counts it in the size histogram', async () => {
    h = await hostileServer({ bodyLimit: 64 * KiB });
    const answer = await postReview(h.port, h.ca, reviewOfSize(80 * KiB));
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
    const refused = h.logs.records().find((r) => r.msg === 'admission request refused');
    expect(refused).toMatchObject({ code: 'BODY_TOO_LARGE', bytes: 80 * KiB });
    const ok = reviewOfSize(3 * KiB, 'uid-logged');
    expect((await postReview(h.port, h.ca, ok)).status).toBe(200);
    expect(h.logs.records().find((r) => r.reqId === 'uid-logged')).toMatchObject({ msg: 'admission decided', bytes: Buffer.byteLength(ok) });
    const page = await h.scrape();
    expect(page).toMatch(/^pullgate_admission_review_bytes_count 2$/m);
    expect(page).toMatch(/^pullgate_admission_review_bytes_bucket\{le="4096"\} 1$/m);
    expect(page).toMatch(/^pullgate_admission_review_bytes_bucket\{le="65536"\} 1$/m);
    expect(page).toMatch(/^pullgate_admission_review_bytes_bucket\{le="262144"\} 2$/m);
  });

  it('keeps /healthz answering while a review at the default limit is handled', { timeout: 60_000 }, async () => {
    h = await hostileServer({ bodyLimit: DEFAULT_BODY_LIMIT });
    const body = reviewOfSize(DEFAULT_BODY_LIMIT - KiB, 'uid-max');
    const delay = monitorEventLoopDelay({ resolution: 5 });
    const latencies: number[] = [];
    let done = false;
    delay.enable();
    const probe = (async () => {
      while (!done) {
        const started = performance.now();
        expect((await send(h!.port, { path: '/healthz', ca: h!.ca })).status).toBe(200);
        latencies.push(performance.now() - started);
      }
    })();
    const started = performance.now();
    const answer = await postReview(h.port, h.ca, body);
    const ms = performance.now() - started;
    done = true;
    await probe;
    delay.disable();
    expect(answer.status).toBe(200);
    expect(answer.json().response.uid).toBe('uid-max');
    const worst = Math.max(...latencies);
    console.log(`[figure] ${(body.length / 2 ** 20).toFixed(2)} MiB review answered in ${ms.toFixed(0)} ms; /healthz answered ${latencies.length} times meanwhile, slowest ${worst.toFixed(0)} ms; longest event-loop block ${(delay.max / 1e6).toFixed(0)} ms (client and server in one process)`);
    // The kubelet's default probe timeout is 1 s.
    expect(latencies.length).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1_000);
  });
});

describe('what a review makes pullgate write', () => {
  it('cuts the warnings of an answer to what the API server passes on (4 KiB), saying how many were left out', async () => {
    h = await hostileServer();
    const containers = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, image: `Bad Image ${i}` }));
    const answer = await postReview(h.port, h.ca, review(pod('p', containers), { uid: 'uid-warned' }));
    const warnings: string[] = answer.json().response.warnings;
    expect(warnings.slice(0, -1).join('').length).toBeLessThanOrEqual(WARNINGS_BUDGET);
    expect(warnings.at(-1)).toMatch(/^pullgate: \d+ more warnings not shown$/);
    expect(Number(/(\d+) more/.exec(warnings.at(-1)!)![1]) + warnings.length - 1).toBe(300);
    expect(h.logs.records().find((r) => r.reqId === 'uid-warned')!.warnings).toEqual(warnings);
  });

  it('lists at most 20 rewrites on the log line, with the count of the rest; the answer rewrites them all', async () => {
    h = await hostileServer();
    const containers = Array.from({ length: 50 }, (_, i) => ({ name: `c${i}`, image: `quay.io/acme/app-${i}:1` }));
    const answer = await postReview(h.port, h.ca, review(pod('p', containers), { uid: 'uid-many' }));
    const patch = JSON.parse(Buffer.from(answer.json().response.patch, 'base64').toString()) as Array<{ path: string }>;
    expect(patch.filter((op) => op.path.endsWith('/image'))).toHaveLength(50);
    const line = h.logs.records().find((r) => r.reqId === 'uid-many')!;
    expect(line.rewrites).toHaveLength(20);
    expect(line.rewritesNotLogged).toBe(30);
  });

  it('capWarnings leaves warnings within the budget alone', () => {
    const few = ['a'.repeat(250), 'b'.repeat(250)];
    expect(capWarnings(few)).toBe(few);
    const many = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(250, '.'));
    const capped = capWarnings(many);
    expect(capped.slice(0, -1)).toEqual(many.slice(0, capped.length - 1));
    expect(capped.join('').length).toBeLessThanOrEqual(WARNINGS_BUDGET + 64);
  });
});

describe('the limit flags of pullgate serve', () => {
  it('take sizes in bytes, Ki or Mi, and a connection count', async () => {
    const parse = async (args: string[]) => {
      let flags: ServeFlags | undefined;
      const program = buildProgram({ serve: async (f) => void (flags = f), preview: async () => {}, doctor: async () => {} }, '0.0.0').exitOverride();
      program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => {} }));
      await program.parseAsync(['serve', '-c', 'c.yaml', ...args], { from: 'user' });
      return flags!;
    };
    expect(await parse(['--max-review-bytes', '6Mi', '--max-in-flight-bytes', '12582912', '--max-connections', '100'])).toMatchObject({ maxReviewBytes: 6 * 2 ** 20, maxInFlightBytes: 12 * 2 ** 20, maxConnections: 100 });
    expect((await parse([])).maxReviewBytes).toBeUndefined();
    await expect(parse(['--max-review-bytes', '8MB'])).rejects.toThrow(/positive size in bytes/);
    await expect(parse(['--max-connections', '0'])).rejects.toThrow(/positive integer/);
  });
});
