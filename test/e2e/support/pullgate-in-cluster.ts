// Runs the built pullgate (dist/) as a child process against a test cluster, the way it runs in a
// real one: its own ServiceAccount bound by the RBAC in deploy/, a serving certificate whose CA the
// API server trusts, and the project's MutatingWebhookConfiguration pointing at 127.0.0.1.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify, parse } from 'yaml';
import { validateConfig } from '../../../src/config.ts';
import { webhookConfiguration } from '../../../src/k8s/webhook-configuration.ts';
import { createCertificateAuthority, issueServingCert } from '../../../src/tls/certificates.ts';
import type { ClusterClient, ClusterInfo } from '../../cluster/client.ts';
import { startSupervised, type SupervisedProcess } from '../../cluster/supervised-process.ts';
import { httpGet, waitUntil } from '../../cluster/wait.ts';
import { APP_NAMESPACE, ADDITIONAL_NAMESPACE, configYaml, LICENSE_YAML, OWN_NAMESPACE } from './scenario.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PullgateInstance {
  port: number;
  metricsPort: number;
  logPath: string;
  configPath: string;
  licensePath: string;
  process: SupervisedProcess;
}

async function kubectlApply(client: ClusterClient, manifest: string): Promise<void> {
  await client.kubectl(['apply', '-f', '-'], { input: manifest });
}

/** The ports of the "pullgate serving" line of a pullgate JSON log, if it has one. */
function servingLine(log: string): { port: number; metricsPort: number } | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"pullgate serving"')) continue;
    const entry = JSON.parse(line) as { msg?: string; port?: unknown; metricsPort?: unknown };
    if (entry.msg !== 'pullgate serving') continue;
    if (typeof entry.port !== 'number' || typeof entry.metricsPort !== 'number' || entry.port === 0 || entry.metricsPort === 0) {
      throw new Error(`"pullgate serving" without the ports it listens on: ${line}`);
    }
    return { port: entry.port, metricsPort: entry.metricsPort };
  }
  return undefined;
}

/** Starts pullgate for `cluster` and waits until the API server calls it. */
export async function startPullgateInCluster(info: ClusterInfo, client: ClusterClient): Promise<PullgateInstance> {
  const dir = join(info.dir, 'pullgate');
  mkdirSync(dir, { recursive: true });
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  for (const ns of [OWN_NAMESPACE, APP_NAMESPACE, ADDITIONAL_NAMESPACE]) {
    await client.kubectl(['create', 'namespace', ns], { allowFailure: true });
  }
  // The RBAC exactly as shipped: pullgate acts with nothing more.
  await client.kubectl(['apply', '-f', join(ROOT, 'deploy/rbac.yaml')]);
  const kubeconfig = await client.serviceAccountKubeconfig(OWN_NAMESPACE, 'pullgate');

  const ca = createCertificateAuthority('pullgate-webhook-ca');
  const serving = issueServingCert(ca, [], 'pullgate');
  const certPath = file('tls.crt', serving.certPem);
  const keyPath = file('tls.key', serving.keyPem);
  const licensePath = file('license.yaml', LICENSE_YAML);
  const configPath = file('config.yaml', configYaml(licensePath));

  const logPath = join(dir, 'pullgate.log');
  const child = startSupervised(
    'pullgate',
    process.execPath,
    [join(ROOT, 'dist/main.js'), 'serve', '--config', configPath, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0',
      '--tls-cert-file', certPath, '--tls-key-file', keyPath, '--namespace', OWN_NAMESPACE, '--kubeconfig', kubeconfig, '--log-level', 'debug', '--secret-recheck-seconds', '2'],
    logPath,
  );
  // Ports chosen by the kernel as pullgate binds them (no window for another process to take
  // them); pullgate logs them once it serves.
  let listening: { port: number; metricsPort: number } | undefined;
  await waitUntil('pullgate to log "pullgate serving"', async () => {
    listening = existsSync(logPath) ? servingLine(readFileSync(logPath, 'utf8')) : undefined;
    return listening !== undefined;
  }, { timeoutMs: 30_000, intervalMs: 100, watch: [child] });
  const { port, metricsPort } = listening!;
  await waitUntil('pullgate /readyz', async () => (await httpGet(`https://127.0.0.1:${port}/readyz`, { ca: ca.certPem })).status === 200, {
    timeoutMs: 30_000,
    watch: [child],
  });

  const config = validateConfig(parse(configYaml(licensePath)), undefined);
  const webhook = webhookConfiguration(config.namespaces, {
    ownNamespace: OWN_NAMESPACE,
    clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.certPem).toString('base64') },
    // Fail loudly in tests: a webhook that is not reached must not pass as "nothing to do".
    failurePolicy: 'Fail',
  });
  await kubectlApply(client, stringify(webhook, { aliasDuplicateObjects: false }));

  // The API server picks up webhook configurations asynchronously: wait until a dry-run Pod comes back mutated.
  const probe = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'webhook-probe', namespace: APP_NAMESPACE }, spec: { containers: [{ name: 'c', image: 'quay.io/acme/probe:1' }] } });
  await waitUntil('pullgate webhook active', async () => {
    const out = await client.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: probe, allowFailure: true });
    return out.code === 0 && out.stdout.includes('proxy.example.com/proxy/my-app/quay.io/acme/probe:1');
  }, { timeoutMs: 30_000, intervalMs: 250, watch: [child] });

  return { port, metricsPort, logPath, configPath, licensePath, process: child };
}
