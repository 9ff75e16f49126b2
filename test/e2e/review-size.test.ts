// How large an AdmissionReview the API server really sends pullgate: Pods of growing size, sent
// straight to the API server (dry run: nothing stored, except the stored Pod an UPDATE needs) up to
// the largest request it accepts, each review's size read from pullgate's log (`bytes`). Prints the
// figures ([figure] lines) that DEFAULT_BODY_LIMIT is chosen from (README, Limits), and checks the
// choice: every Pod of ordinary content the API server accepts fits under it with a margin, and a
// review inflated past it is refused with 413 while pullgate stays healthy.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_BODY_LIMIT } from '../../src/server/read-body.ts';
import { eventually } from '../support/eventually.ts';
import { send } from '../support/http.ts';
import { e2e, unavailable } from './support/env.ts';
import { logEntries, logMark, type LogEntry } from './support/pullgate-log.ts';
import { APP_NAMESPACE } from './support/scenario.ts';

const MiB = 1024 * 1024;
/** The API server's documented request body limit (apiserver MaxRequestBodyBytes). */
const API_SERVER_REQUEST_LIMIT = 3 * MiB;
/** The largest ordinary review must leave this share of the cap free. */
const MARGIN = 0.25;
const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/vnd.kubernetes.protobuf';

interface Answer {
  status: number;
  text: string;
}

interface Admin {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

function admin(): Admin {
  const cluster = e2e().env.cluster!;
  const config = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as { users: Array<{ user: Record<string, string> }> };
  const user = config.users[0]!.user;
  const b64 = (key: string) => Buffer.from(user[key]!, 'base64').toString('utf8');
  return { server: cluster.server, ca: cluster.caPem, cert: b64('client-certificate-data'), key: b64('client-key-data') };
}

/**
 * One request to the API server as its admin, the body sent as given. The API server stops reading
 * a body at its limit, answers 413 and resets the connection: the answer counts, the reset of the
 * rest of the upload does not, and a reset that overtakes the answer is that same refusal.
 */
function apiServer(a: Admin, method: string, path: string, body?: Buffer, contentType = JSON_TYPE): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, a.server);
    const headers: Record<string, string | number> = { accept: JSON_TYPE };
    if (body) Object.assign(headers, { 'content-type': contentType, 'content-length': body.length });
    let answered = false;
    const req = request(url, { method, ca: a.ca, cert: a.cert, key: a.key, headers, agent: false }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') });
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return;
      if (body && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) resolve({ status: 413, text: `connection reset while sending the body (${err.code})` });
      else reject(err);
    });
    req.end(body);
  });
}

// --- Pods of an exact body size -------------------------------------------------------------

type Shape = (name: string, fill: number) => Buffer;

const container = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: 'quay.io/acme/app:1', ...extra });
const podJson = (name: string, spec: unknown, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: APP_NAMESPACE, ...extra }, spec }));

/** One container whose argument is `fill` plain ASCII characters: the common way a Pod gets large (scripts, config). */
const asciiArgs: Shape = (name, fill) => podJson(name, { containers: [container('c', { args: ['x'.repeat(fill)] })] });
/** The same with `<`, which the API server's JSON encoder writes as `\u003c`: six bytes for one. */
const escapedArgs: Shape = (name, fill) => podJson(name, { containers: [container('c', { args: ['<'.repeat(fill)] })] });
/** As many minimal containers as fit, each of which the API server's defaulting fills in. */
const TINY = 38;
const tinyContainersJson: Shape = (name, fill) => {
  const count = Math.max(0, Math.floor(fill / TINY) - 1);
  const containers = Array.from({ length: count }, (_, i) => ({ name: `c${i}`, image: 'i' }));
  return podJson(name, { containers: [{ name: 'pad', image: 'i', args: ['x'.repeat(fill - count * TINY)] }, ...containers] });
};

// Kubernetes' protobuf encoding (k8s.io/api/core/v1/generated.proto), as controllers send Pods:
// no field names, so the same Pod is far smaller than its JSON.
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const field = (num: number, payload: Buffer) => Buffer.concat([varint((num << 3) | 2), varint(payload.length), payload]);
const text = (num: number, value: string) => field(num, Buffer.from(value));
const tinyContainersProtobuf: Shape = (name, fill) => {
  // Container: name = 1, image = 2, args = 4. PodSpec: containers = 2. ObjectMeta: name = 1,
  // namespace = 3. Pod: metadata = 1, spec = 2. runtime.Unknown: typeMeta = 1 {apiVersion = 1,
  // kind = 2}, raw = 2, behind the magic bytes "k8s\0".
  const one = field(2, Buffer.concat([text(1, 'c99999'), text(2, 'i')])).length;
  const count = Math.max(0, Math.floor(fill / one) - 1);
  const containers = Array.from({ length: count }, (_, i) => field(2, Buffer.concat([text(1, `c${i}`), text(2, 'i')])));
  const pad = field(2, Buffer.concat([text(1, 'pad'), text(2, 'i'), text(4, 'x'.repeat(Math.max(0, fill - count * one)))]));
  const pod = Buffer.concat([field(1, Buffer.concat([text(1, name), text(3, APP_NAMESPACE)])), field(2, Buffer.concat([pad, ...containers]))]);
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), field(1, Buffer.concat([text(1, 'v1'), text(2, 'Pod')])), field(2, pod)]);
};

/** The body of `shape` closest to `size` bytes without passing it (exact for all but varint steps). */
function ofSize(shape: Shape, name: string, size: number): Buffer {
  let fill = Math.max(0, size - shape(name, 0).length);
  let body = shape(name, fill);
  for (let i = 0; i < 8 && body.length !== size; i++) {
    fill = Math.max(0, fill + size - body.length);
    body = shape(name, fill);
  }
  while (body.length > size && fill > 0) body = shape(name, --fill);
  return body;
}

// --- What pullgate saw --------------------------------------------------------------------------

interface Seen {
  /** The review's size in bytes, as pullgate read or was told it. */
  bytes: number;
  refused?: string;
}

/** pullgate's log entry for the review of Pod `name`, written after `mark`: decided (by name) or refused (the only refusal since). */
function seenBy(logPath: string, mark: number, name: string): Promise<Seen> {
  return eventually(`pullgate's log entry for Pod ${name}`, () => {
    const entries = logEntries(logPath, mark);
    const decided = entries.find((e: LogEntry) => e.msg === 'admission decided' && e.name === name);
    if (decided) return { bytes: decided.bytes as number };
    const refused = entries.find((e: LogEntry) => e.msg === 'admission request refused');
    return refused ? { bytes: refused.bytes as number, refused: refused.code as string } : undefined;
  }, { timeoutMs: 30_000, files: [logPath] });
}

let probes = 0;

interface Probe {
  body: number;
  status: number;
  answer: string;
  /** How long the API server took to answer. */
  ms: number;
  seen?: Seen;
}

/** Sends `body` (made for Pod `name`) and reads what pullgate saw of it, if the API server called pullgate. */
async function probe(a: Admin, name: string, body: Buffer, options: { contentType?: string; method?: string; path?: string } = {}): Promise<Probe> {
  const { env } = e2e();
  const logPath = env.pullgate!.logPath;
  const mark = logMark(logPath);
  const path = options.path ?? `/api/v1/namespaces/${APP_NAMESPACE}/pods?dryRun=All`;
  const started = performance.now();
  const answer = await apiServer(a, options.method ?? 'POST', path, body, options.contentType);
  const result: Probe = { body: body.length, status: answer.status, answer: answer.text.slice(0, 300), ms: performance.now() - started };
  probes += 1;
  // 413 from the API server itself: refused before admission, pullgate never saw it. 504: the API
  // server ran out of its own time (decoding and defaulting) before it called pullgate.
  if ((answer.status === 413 && !answer.text.includes('webhook')) || answer.status === 504) return result;
  const seen = await seenBy(logPath, mark, name).catch((err: Error) => {
    throw new Error(`${err.message}; the API server answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  });
  return { ...result, seen };
}

const figure = (line: string) => console.log(`[figure] ${line}`);
const mib = (n: number) => `${(n / MiB).toFixed(2)} MiB`;

function report(label: string, p: Probe): void {
  const seen = p.seen ? `review ${p.seen.bytes} B (${mib(p.seen.bytes)}, ${(p.seen.bytes / p.body).toFixed(2)}x the request)${p.seen.refused ? `, refused by pullgate: ${p.seen.refused}` : ', admitted by pullgate'}` : 'pullgate not called';
  figure(`${label}: request ${p.body} B (${mib(p.body)}), API server ${p.status} in ${(p.ms / 1000).toFixed(1)} s, ${seen}`);
}

describe.skipIf(unavailable)('the size of the reviews the API server sends', () => {
  it('finds the largest Pod the API server accepts, in each encoding, and what it becomes on the way to pullgate', { timeout: 900_000 }, async () => {
    const a = admin();
    const { env } = e2e();

    // The API server's own request limit, to the byte, with the plainest Pod.
    let ok = 64 * 1024;
    let tooLarge = 4 * MiB;
    expect((await probe(a, 'limit-lo', ofSize(asciiArgs, 'limit-lo', ok))).status).toBe(201);
    expect((await probe(a, 'limit-hi', ofSize(asciiArgs, 'limit-hi', tooLarge))).status).toBe(413);
    while (tooLarge - ok > 1) {
      const mid = Math.floor((ok + tooLarge) / 2);
      const name = `limit-${probes}`;
      const p = await probe(a, name, ofSize(asciiArgs, name, mid));
      if (p.status === 413 && !p.seen) tooLarge = mid;
      else {
        expect(p.status, p.answer).toBe(201);
        ok = mid;
      }
    }
    figure(`API server request body limit: ${ok} B accepted, ${tooLarge} B refused with 413 (${probes} probes)`);
    expect(ok).toBeLessThanOrEqual(API_SERVER_REQUEST_LIMIT);
    const limit = ok;

    // Every encoding, growing to that limit, or until the API server cannot decode and default the
    // Pod within its own request timeout (504) and never calls pullgate. One byte past the limit is
    // refused by the API server itself.
    const results = new Map<string, Probe>();
    for (const [label, shape, contentType] of [
      ['CREATE, JSON, ASCII argument', asciiArgs, JSON_TYPE],
      ['CREATE, JSON, argument of "<"', escapedArgs, JSON_TYPE],
      ['CREATE, JSON, minimal containers', tinyContainersJson, JSON_TYPE],
      ['CREATE, protobuf, minimal containers', tinyContainersProtobuf, PROTOBUF_TYPE],
    ] as const) {
      for (const size of [256 * 1024, MiB, limit]) {
        const name = `size-${probes}`;
        const p = await probe(a, name, ofSize(shape, name, size), { contentType });
        report(label, p);
        if (!p.seen) {
          expect(p.status, `${label}: ${p.answer}`).toBe(504);
          break;
        }
        results.set(`${label}, ${size}`, p);
      }
      const over = await probe(a, `over-${probes}`, ofSize(shape, `over-${probes}`, limit + 64), { contentType });
      expect([over.status, over.seen]).toEqual([413, undefined]);
    }
    const ordinaryCreate = results.get(`CREATE, JSON, ASCII argument, ${limit}`);
    expect(ordinaryCreate?.seen).toBeDefined();

    // UPDATE carries the stored Pod as well: the largest etcd stores (its request limit), then an
    // update at the API server's request limit (refused by validation after admission: a Pod's
    // arguments cannot change, but pullgate is called first).
    let stored = 64 * 1024;
    let unstorable = limit;
    const created: string[] = [];
    while (unstorable - stored > 1024) {
      const mid = Math.floor((stored + unstorable) / 2);
      const name = `stored-${probes}`;
      const answer = await apiServer(a, 'POST', `/api/v1/namespaces/${APP_NAMESPACE}/pods`, ofSize(asciiArgs, name, mid));
      probes += 1;
      if (answer.status === 201) {
        stored = mid;
        created.push(name);
      } else {
        // etcd refuses the write (500 "etcdserver: request is too large"), or the API server its request (413).
        expect(answer.text, answer.text.slice(0, 300)).toMatch(/too large/i);
        unstorable = mid;
      }
    }
    figure(`largest stored Pod (ASCII argument): ${stored} B (${mib(stored)}) stored, ${unstorable} B refused`);
    const keep = created.pop()!;
    for (const name of created) await apiServer(a, 'DELETE', `/api/v1/namespaces/${APP_NAMESPACE}/pods/${name}?gracePeriodSeconds=0`);
    const current = JSON.parse((await apiServer(a, 'GET', `/api/v1/namespaces/${APP_NAMESPACE}/pods/${keep}`)).text) as { metadata: { resourceVersion: string } };
    const updateOf = (name: string, fill: number) =>
      podJson(name, { containers: [container('c', { args: ['y'.repeat(fill)] })] }, { resourceVersion: current.metadata.resourceVersion });
    const update = await probe(a, keep, ofSize(updateOf, keep, limit), { method: 'PUT', path: `/api/v1/namespaces/${APP_NAMESPACE}/pods/${keep}?dryRun=All` });
    report('UPDATE, JSON, ASCII argument, stored Pod at its limit', update);
    expect(update.seen, update.answer).toBeDefined();
    results.set('UPDATE', update);
    await apiServer(a, 'DELETE', `/api/v1/namespaces/${APP_NAMESPACE}/pods/${keep}?gracePeriodSeconds=0`);

    // The choice: ordinary content fits with the margin; what only inflation makes larger is
    // refused with 413 (the webhook's failurePolicy decides), never a failure of pullgate.
    const ordinary = [ordinaryCreate!, update];
    const largestOrdinary = Math.max(...ordinary.map((p) => p.seen!.bytes));
    figure(`largest ordinary review ${largestOrdinary} B (${mib(largestOrdinary)}); cap ${DEFAULT_BODY_LIMIT} B (${mib(DEFAULT_BODY_LIMIT)}), ${((1 - largestOrdinary / DEFAULT_BODY_LIMIT) * 100).toFixed(0)}% free`);
    for (const p of ordinary) expect(p.seen!.refused).toBeUndefined();
    expect(largestOrdinary).toBeLessThanOrEqual(DEFAULT_BODY_LIMIT * (1 - MARGIN));
    for (const p of results.values()) {
      if (p.seen!.bytes > DEFAULT_BODY_LIMIT) expect(p.seen!.refused).toBe('BODY_TOO_LARGE');
      else expect(p.seen!.refused).toBeUndefined();
    }
    expect((await send(env.pullgate!.port, { path: '/healthz', ca: env.pullgate!.ca })).status).toBe(200);
  });
});
