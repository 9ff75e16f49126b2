// A stand-in for the Kubernetes API server that knows only namespaced Secrets: enough for the pull
// secret keeper to GET, POST, PUT and DELETE, and for a test to see what it asked. The real API
// server is exercised by the e2e tests.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import type { TlsFixture } from './tls.ts';

export interface StubCall {
  method: string;
  path: string;
  namespace: string;
  body?: unknown;
}

export interface KubeStub {
  url: string;
  calls: StubCall[];
  /** Stored secrets by `namespace/name`. */
  secrets: Map<string, Record<string, unknown>>;
  callsFor(namespace: string): StubCall[];
  writeKubeconfig(path: string): string;
  close(): Promise<void>;
}

const SECRETS = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/?]+))?$/;

function status(code: number, reason: string, message: string) {
  return { apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message };
}

export async function startKubeStub(tls: TlsFixture): Promise<KubeStub> {
  const calls: StubCall[] = [];
  const secrets = new Map<string, Record<string, unknown>>();
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?', 1)[0]!;
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : undefined;
      const send = (code: number, value: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      const match = SECRETS.exec(path);
      if (!match) return send(404, status(404, 'NotFound', 'the stub serves secrets only'));
      const namespace = decodeURIComponent(match[1]!);
      const name = match[2] ? decodeURIComponent(match[2]) : undefined;
      calls.push({ method: req.method ?? '', path, namespace, ...(body !== undefined ? { body } : {}) });
      const key = `${namespace}/${name ?? (body as { metadata?: { name?: string } } | undefined)?.metadata?.name}`;
      switch (req.method) {
        case 'GET': {
          const found = secrets.get(key);
          return found ? send(200, found) : send(404, status(404, 'NotFound', `secrets "${name}" not found`));
        }
        case 'POST':
          if (secrets.has(key)) return send(409, status(409, 'AlreadyExists', 'already exists'));
          secrets.set(key, body as Record<string, unknown>);
          return send(201, body);
        case 'PUT':
          secrets.set(key, body as Record<string, unknown>);
          return send(200, body);
        case 'DELETE':
          secrets.delete(key);
          return send(200, status(200, '', 'deleted'));
        default:
          return send(405, status(405, 'MethodNotAllowed', 'no'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    secrets,
    callsFor: (namespace) => calls.filter((c) => c.namespace === namespace),
    writeKubeconfig(path) {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      writeFileSync(
        path,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'stub', cluster: { server: url, 'certificate-authority-data': b64(tls.caPem) } }],
          users: [{ name: 'stub', user: { token: 'stub-token' } }],
          contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'stub' } }],
          'current-context': 'stub',
        }),
        { mode: 0o600 },
      );
      return path;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
