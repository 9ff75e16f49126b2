// The client's requests share one connection pool: twenty API calls reuse a connection or two.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { loadKubeConfig } from '../../../src/k8s/kube-config.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { generateTls } from '../helpers/tls.ts';

const dir = tempDir();
afterAll(() => dir.remove());

/** An HTTPS server answering every GET with an empty Namespace; counts the TLS connections it accepts. */
async function namespaceServer() {
  const tls = generateTls(dir.path);
  let connections = 0;
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const name = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kubeconfig = join(dir.path, `kubeconfig-${(server.address() as AddressInfo).port}`);
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, 'certificate-authority-data': Buffer.from(tls.caPem).toString('base64') } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return {
    kubeconfig,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function twentyCalls(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < 20; i++) expect((await core.readNamespace({ name: `ns-${i}` })).metadata?.name).toBe(`ns-${i}`);
}

describe('loadKubeConfig', () => {
  it('sends every request over one pooled connection', async () => {
    const server = await namespaceServer();
    try {
      await twentyCalls(loadKubeConfig(server.kubeconfig));
      // A socket goes back to the pool a moment after its answer is read, so the next call may
      // open a second one; past that, they are reused.
      expect(server.connections()).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });

  it('(the control) the client alone opens a connection per request', async () => {
    const server = await namespaceServer();
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(server.kubeconfig);
      await twentyCalls(kc);
      expect(server.connections()).toBe(20);
    } finally {
      await server.close();
    }
  });
});
