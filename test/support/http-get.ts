// A plain HTTP(S) GET for readiness checks of the test servers: no kubectl, no client library.
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';

export interface HttpResult {
  status: number;
  body: string;
}

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  /** For servers with a throwaway self-signed certificate (kube-controller-manager). */
  insecure?: boolean;
}

export function httpGet(url: string, tls: TlsOptions = {}, timeoutMs = 5_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const options = { method: 'GET', timeout: timeoutMs };
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    };
    const req =
      u.protocol === 'https:'
        ? request(u, { ...options, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure }, onResponse)
        : httpRequest(u, options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
