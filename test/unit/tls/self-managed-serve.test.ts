// `pullgate serve --tls self-managed` against the in-memory API server: it listens at once (the
// kubelet's probes reach /healthz) but is not ready until its serving certificate from the shared
// CA is in place; a CA Secret it cannot use keeps it unready, is reported, and is never overwritten.
// The install guard goes only once it is ready and its webhook configuration holds its CA.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startPullgate, type RunningPullgate } from '../../../src/server/start.ts';
import { eventually } from '../../support/eventually.ts';
import { httpGet } from '../../support/http-get.ts';
import { tempDir, writeSetup } from '../helpers/fixtures.ts';
import { startKubeStub, type KubeStub, type StubCall } from '../helpers/kube-stub.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { generateTls } from '../helpers/tls.ts';

vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });
const CA_SECRET = 'pullgate-ca';
const isCaRead = (c: StubCall) => c.method === 'GET' && c.path === `/api/v1/namespaces/pullgate/secrets/${CA_SECRET}`;

describe('serve --tls self-managed', () => {
  let dir: ReturnType<typeof tempDir>;
  let stub: KubeStub;
  let running: RunningPullgate | undefined;
  let logs: CapturedLogs;

  async function cluster(): Promise<void> {
    dir = tempDir();
    stub = await startKubeStub(generateTls(dir.path));
    for (const ns of ['my-app', 'pullgate']) stub.addNamespace(ns);
  }

  function start(more: { installGuard?: string } = {}): Promise<RunningPullgate> {
    logs = captureLogs('info');
    const { configFile } = writeSetup(dir.path);
    return startPullgate({
      configFile,
      tls: { selfManaged: { caSecretName: CA_SECRET, webhookConfigurationName: 'pullgate', sans: ['127.0.0.1', 'localhost'], validityMs: 3_600_000 } },
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      ownNamespace: 'pullgate',
      kubeconfig: stub.writeKubeconfig(join(dir.path, 'kubeconfig')),
      logger: logs.logger,
      ...more,
    });
  }

  afterEach(async () => {
    await running?.shutdown();
    running = undefined;
    await stub?.close();
    dir?.remove();
  });

  const status = async (path: string) => (await httpGet(`https://127.0.0.1:${running!.port}${path}`, { insecure: true })).status;

  it('answers /healthz but not /readyz while the CA cannot be had; ready, serving a certificate from the CA Secret it created, once it can', async () => {
    let refuse = true;
    await cluster();
    // The API server refuses the CA Secret's read for now (as RBAC would before the Role exists).
    stub.intercept = (call) => (refuse && isCaRead(call) ? { status: 403, body: { kind: 'Status', code: 403, reason: 'Forbidden' } } : undefined);
    running = await start();
    await eventually('a refused read of the CA Secret', () => stub.calls.some(isCaRead) || undefined, 10_000);
    expect(await status('/healthz')).toBe(200);
    expect(await status('/readyz')).toBe(503);

    refuse = false;
    await eventually('ready', async () => (await status('/readyz')) === 200, 20_000);
    const stored = stub.secrets.get(`pullgate/${CA_SECRET}`)!;
    expect(stored.type).toBe('kubernetes.io/tls');
    const caPem = Buffer.from((stored.data as Record<string, string>)['tls.crt']!, 'base64').toString('utf8');
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: running!.port, ca: caPem }, () => {
        resolve(socket.getPeerX509Certificate()!);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(served.checkIssued(new X509Certificate(caPem))).toBe(true);
    expect(logs.text()).toContain('cannot obtain the CA; not ready');
    expect(logs.text()).not.toContain('PRIVATE KEY');
  });

  it('deletes the install guard once ready and its webhook configuration holds the CA, not before that configuration exists', async () => {
    await cluster();
    const webhook = (name: string) => ({ metadata: { name }, webhooks: [{ name: 'pods.pullgate.dev', clientConfig: { service: { namespace: 'pullgate', name: 'pullgate', path: '/mutate', port: 443 } }, admissionReviewVersions: ['v1'], sideEffects: 'NoneOnDryRun' }] });
    stub.webhookConfigurations.set('pullgate-install', webhook('pullgate-install'));
    running = await start({ installGuard: 'pullgate-install' });
    // Ready, with its CA, but Helm has not created the webhook configuration yet: the guard stays.
    await eventually('ready', async () => (await status('/readyz')) === 200, 20_000);
    await eventually('the keeper looked for its configuration', () => logs.text().includes('webhook configuration not found') || undefined, 20_000);
    expect(stub.webhookConfigurations.has('pullgate-install')).toBe(true);
    expect(stub.calls.filter((c) => c.method === 'DELETE')).toEqual([]);

    stub.webhookConfigurations.set('pullgate', webhook('pullgate'));
    await eventually('the guard deleted', () => !stub.webhookConfigurations.has('pullgate-install'), 20_000);
    const writes = stub.calls.filter((c) => c.path.includes('mutatingwebhookconfigurations') && c.method !== 'GET').map((c) => `${c.method} ${c.path.split('/').at(-1)}`);
    expect(writes).toEqual(['PUT pullgate', 'DELETE pullgate-install']);
    expect((stub.webhookConfigurations.get('pullgate') as { webhooks: Array<{ clientConfig: { caBundle?: string } }> }).webhooks[0]!.clientConfig.caBundle).toBeDefined();
  });

  it('stays unready with a CA Secret it cannot use, says why, and never overwrites it', async () => {
    await cluster();
    // Someone else's Secret of that name.
    stub.secrets.set(`pullgate/${CA_SECRET}`, { type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from('garbage').toString('base64'), 'tls.key': Buffer.from('garbage').toString('base64') } });
    const before = stub.secrets.get(`pullgate/${CA_SECRET}`)!.metadata!.resourceVersion;
    running = await start();
    await eventually('the problem logged', () => logs.text().includes('tls.crt is not a PEM certificate') || undefined, 20_000);
    expect(await status('/readyz')).toBe(503);
    expect(stub.secrets.get(`pullgate/${CA_SECRET}`)!.metadata!.resourceVersion).toBe(before);
    expect(stub.calls.filter((c) => c.path.includes(CA_SECRET) && c.method !== 'GET')).toEqual([]);
  });
});
