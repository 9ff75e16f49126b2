// A small HTTP(S) client for tests: one request, the whole answer. Each request opens its own
// connection unless an agent is given, so one test's socket never leaks into the next.
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any;
}

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Sent in pieces without a content-length (chunked), to test streamed limits. */
  chunks?: Buffer[];
  /** PEM of the CA for https; absent means plain http. */
  ca?: string;
  agent?: HttpAgent | HttpsAgent;
}

export function send(port: number, options: RequestOptions): Promise<Answer> {
  const { method = 'GET', path, headers = {}, body, chunks, ca, agent } = options;
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', port, method, path, headers: { ...headers }, agent: agent ?? false };
    if (body !== undefined && !('content-length' in headers)) common.headers['content-length'] = Buffer.byteLength(body);
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    };
    const req = ca ? httpsRequest({ ...common, ca, servername: 'localhost' }, onResponse) : httpRequest(common, onResponse);
    req.on('error', reject);
    if (chunks) {
      for (const chunk of chunks) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

/** POSTs a JSON value (or raw text) to `/mutate` with content-type application/json. */
export function postReview(port: number, ca: string, body: unknown, headers: Record<string, string | number> = {}): Promise<Answer> {
  return send(port, {
    method: 'POST',
    path: '/mutate',
    ca,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
