// Runs the built pullgate (dist/) as a child process against a test cluster, the way it runs in a
// real one: its own ServiceAccount bound by the RBAC in deploy/, a serving certificate whose CA the
// API server trusts, and the project's MutatingWebhookConfiguration pointing at 127.0.0.1.
// The e2e suite shares one such instance; a test may start more of its own (say one whose API
// server is behind a hang proxy), each with its own directory, log and ports.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify, parse } from 'yaml';
import { validateConfig } from '../../../src/config/schema.ts';
import { namespaceScope, type NamespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../../src/k8s/webhook-configuration.ts';
import { prefilterInput, webhookMatchConditions } from '../../../src/k8s/webhook-match-conditions.ts';
import { createCertificateAuthority, issueServingCert } from '../../../src/tls/certificates.ts';
import type { ClusterClient, ClusterInfo } from '../../cluster/client.ts';
import { writeKubeconfig } from '../../cluster/kubeconfig.ts';
import { startSupervised, type SupervisedProcess } from '../../cluster/supervised-process.ts';
import { eventually } from '../../support/eventually.ts';
import { httpGet } from '../../support/http-get.ts';
import { logEntries } from './pullgate-log.ts';
import { APP_NAMESPACE, ADDITIONAL_NAMESPACE, configYaml as scenarioConfigYaml, LICENSE_YAML, OWN_NAMESPACE } from './scenario.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The name of the instance the e2e suite shares. */
export const SHARED_INSTANCE = 'pullgate';

export interface PullgateOptions {
  /** Names its directory under the cluster dir (pullgate-NAME), its log and its webhook; unique. Default: the shared instance. */
  name?: string;
  /** The API server URL in its kubeconfig, e.g. a hang proxy's https://127.0.0.1:PORT. Default: the API server. */
  apiServerUrl?: string;
  /**
   * Register a MutatingWebhookConfiguration pointing at it (named after the instance, deleted by
   * stop()). Default: true for the shared instance, false for any other: one webhook answering for
   * the suite is what every other test expects.
   */
  registerWebhook?: boolean;
  /** An existing license file (say the shared instance's, so one change reaches both). Default: a new file holding scenario.LICENSE_YAML. */
  licensePath?: string;
  /** The configuration file; a function is given the license path. Default: scenario.configYaml. */
  configYaml?: string | ((licensePath: string) => string);
  /** More `pullgate serve` flags, after the defaults (a repeated flag overrides its default). */
  extraArgs?: string[];
  /** Flags for Node itself, e.g. a heap size as a container's memory limit would set it. */
  nodeArgs?: string[];
  /** Wait for /readyz (default), or return once it logs "pullgate serving" (an API server that never answers may keep it unready). */
  waitReady?: boolean;
  /**
   * Its own namespace and ServiceAccount, whose RBAC and write guard the test has applied, instead
   * of scenario.OWN_NAMESPACE and deploy/'s ServiceAccount `pullgate`.
   */
  identity?: { namespace: string; serviceAccount: string };
  /**
   * Self-managed TLS (serve --tls self-managed) instead of certificate files: the CA comes from
   * the Secret `caSecret` (created by the first instance) and the instance keeps it in the
   * caBundle of `webhookConfiguration`, which the test registers itself (registerWebhook must be
   * false). Its serving certificate names 127.0.0.1 and localhost besides the Service's names.
   */
  selfManagedTls?: { caSecret: string; webhookConfiguration: string; certValidity?: string };
}

export interface PullgateInstance {
  name: string;
  port: number;
  metricsPort: number;
  logPath: string;
  configPath: string;
  licensePath: string;
  /** PEM of the CA of its serving certificate: what a client of /mutate trusts (self-managed: the CA Secret's, once ready). */
  ca: string;
  process: SupervisedProcess;
  /** Deletes its webhook configuration (if it registered one) and stops the process. */
  stop(): Promise<void>;
}

async function kubectlApply(client: ClusterClient, manifest: string): Promise<void> {
  await client.kubectl(['apply', '-f', '-'], { input: manifest });
}

/** The ports of the "pullgate serving" line of a pullgate JSON log, if it has one. */
function servingLine(logPath: string): { port: number; metricsPort: number } | undefined {
  const entry = logEntries(logPath).find((e) => e['msg'] === 'pullgate serving');
  if (entry === undefined) return undefined;
  const { port, metricsPort } = entry;
  if (typeof port !== 'number' || typeof metricsPort !== 'number' || port === 0 || metricsPort === 0) {
    throw new Error(`"pullgate serving" without the ports it listens on: ${JSON.stringify(entry)}`);
  }
  return { port, metricsPort };
}

/** A namespace whose Pods the webhook sends to pullgate whatever its labels, if the scope has one. */
function probeNamespace(scope: NamespaceScope): string | undefined {
  if (scope.configured.length > 0) return scope.configured[0];
  return scope.all ? 'default' : undefined;
}

/** Starts a pullgate for `cluster` and waits until it is ready and, if it registered a webhook, called by the API server. */
export async function startPullgateInCluster(info: ClusterInfo, client: ClusterClient, options: PullgateOptions = {}): Promise<PullgateInstance> {
  const name = options.name ?? SHARED_INSTANCE;
  const shared = name === SHARED_INSTANCE;
  const registerWebhook = options.registerWebhook ?? shared;
  const selfManaged = options.selfManagedTls;
  if (selfManaged && registerWebhook) throw new Error(`pullgate instance "${name}": with self-managed TLS the test registers the webhook configuration`);
  const ownNamespace = options.identity?.namespace ?? OWN_NAMESPACE;
  const serviceAccount = options.identity?.serviceAccount ?? 'pullgate';
  const dir = join(info.dir, shared ? name : `pullgate-${name}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new Error(`pullgate instance "${name}" cannot have ${dir}: ${(err as Error).message}`);
  }
  const file = (fileName: string, content: string) => {
    const path = join(dir, fileName);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  if (!options.identity) {
    for (const ns of [OWN_NAMESPACE, APP_NAMESPACE, ADDITIONAL_NAMESPACE]) {
      await client.kubectl(['create', 'namespace', ns], { allowFailure: true });
    }
    // The RBAC and the write guard exactly as shipped: pullgate acts with nothing more.
    await client.kubectl(['apply', '-f', join(ROOT, 'deploy/rbac.yaml'), '-f', join(ROOT, 'deploy/write-guard.yaml')]);
  }
  const token = (await client.kubectl(['create', 'token', serviceAccount, '-n', ownNamespace, '--duration=24h'])).stdout.trim();
  const kubeconfig = writeKubeconfig(join(dir, 'kubeconfig'), options.apiServerUrl ?? info.server, info.caPem, `system:serviceaccount:${ownNamespace}:${serviceAccount}`, { token }, ownNamespace);

  let tlsArgs: string[];
  let ca: { certPem: string } | undefined;
  if (selfManaged) {
    tlsArgs = ['--tls', 'self-managed', '--tls-ca-secret', selfManaged.caSecret, '--webhook-configuration', selfManaged.webhookConfiguration, '--tls-san', '127.0.0.1', '--tls-san', 'localhost',
      ...(selfManaged.certValidity ? ['--tls-cert-validity', selfManaged.certValidity] : [])];
  } else {
    const authority = createCertificateAuthority('pullgate-webhook-ca');
    ca = authority;
    const serving = issueServingCert(authority, [], 'pullgate');
    tlsArgs = ['--tls-cert-file', file('tls.crt', serving.certPem), '--tls-key-file', file('tls.key', serving.keyPem)];
  }
  const licensePath = options.licensePath ?? file('license.yaml', LICENSE_YAML);
  const configText = typeof options.configYaml === 'string' ? options.configYaml : (options.configYaml ?? scenarioConfigYaml)(licensePath);
  const configPath = file('config.yaml', configText);

  const logPath = join(dir, 'pullgate.log');
  const child = startSupervised(
    name,
    process.execPath,
    [...(options.nodeArgs ?? []), join(ROOT, 'dist/main.js'), 'serve', '--config', configPath, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0',
      ...tlsArgs, '--namespace', ownNamespace, '--kubeconfig', kubeconfig, '--log-level', 'debug',
      ...(options.extraArgs ?? [])],
    logPath,
  );
  const watch = [child];
  const webhookName = shared ? 'pullgate' : `pullgate-${name}`;
  // First the webhook: with failurePolicy Fail, a registered webhook whose server is gone blocks Pods.
  const stop = async (): Promise<void> => {
    if (registerWebhook && !shared) await client.kubectl(['delete', 'mutatingwebhookconfiguration', webhookName, '--ignore-not-found']);
    await child.stop();
  };
  try {
    // Ports chosen by the kernel as pullgate binds them (no window for another process to take
    // them); pullgate logs them once it serves.
    const { port, metricsPort } = await eventually(`${name} to log "pullgate serving"`, () => servingLine(logPath), { timeoutMs: 30_000, watch, files: [logPath] });
    if (options.waitReady ?? true) {
      // Self-managed: its CA is not known before it is ready (it listens with a placeholder until then).
      const tls = ca ? { ca: ca.certPem } : { insecure: true };
      await eventually(`${name} /readyz`, async () => (await httpGet(`https://127.0.0.1:${port}/readyz`, tls)).status === 200, {
        timeoutMs: 30_000,
        retryErrors: true,
        watch,
      });
    }
    if (!ca) {
      const secret = JSON.parse((await client.kubectl(['get', 'secret', selfManaged!.caSecret, '-n', ownNamespace, '-o', 'json'])).stdout) as { data: Record<string, string> };
      ca = { certPem: Buffer.from(secret.data['tls.crt']!, 'base64').toString('utf8') };
    }

    if (registerWebhook) {
      const config = validateConfig(parse(configText), undefined);
      const scope = namespaceScope(config.namespaces, OWN_NAMESPACE);
      const webhook = webhookConfiguration(scope, {
        name: webhookName,
        // As shipped: only Pods with an image that may need pullgate are sent to it.
        matchConditions: webhookMatchConditions(prefilterInput(config, readFileSync(licensePath, 'utf8'))),
        clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca!.certPem).toString('base64') },
        // Fail loudly in tests: a webhook that is not reached must not pass as "nothing to do".
        failurePolicy: 'Fail',
      });
      await kubectlApply(client, stringify(webhook, { aliasDuplicateObjects: false }));

      // The API server picks up webhook configurations asynchronously: send dry-run Pods until
      // this instance logs one (dry runs store nothing and create no pull secret).
      const ns = probeNamespace(scope);
      if (ns !== undefined) {
        const probeName = `webhook-probe-${name}`;
        const probe = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: probeName, namespace: ns }, spec: { containers: [{ name: 'c', image: 'quay.io/acme/probe:1' }] } });
        await eventually(`${name} webhook active`, async () => {
          await client.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: probe, allowFailure: true });
          return logEntries(logPath).some((e) => e['msg'] === 'admission decided' && e['name'] === probeName && e['namespace'] === ns);
        }, { timeoutMs: 30_000, watch });
      }
    }

    return { name, port, metricsPort, logPath, configPath, licensePath, ca: ca.certPem, process: child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
