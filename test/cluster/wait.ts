// Polling helpers for server readiness: plain HTTPS GETs (no kubectl needed) and a wait loop that
// gives up early, with the server's log tail, when the server being waited for has died.
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { SupervisedProcess } from './supervised-process.ts';

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

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * Polls check() until it returns true. Fails when timeoutMs passes or when any of `watch` exits,
 * with the last check error and the log tail of the process concerned.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; watch: SupervisedProcess[] },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = opts.watch.find((p) => p.hasExited());
    if (dead) {
      throw new StartupError(`${dead.name} exited while waiting for ${what}. Log ${dead.logPath}:\n${dead.logTail()}`);
    }
    try {
      if (await check()) return;
      lastError = '';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const logs = opts.watch.map((p) => `--- ${p.name} (${p.logPath}):\n${p.logTail(20)}`).join('\n');
      throw new StartupError(`timed out after ${opts.timeoutMs}ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
