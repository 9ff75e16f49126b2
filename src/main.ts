#!/usr/bin/env node
// The process edge: arguments, environment, standard streams, signals and exit codes live here
// and nowhere else.
import { once } from 'node:events';
import { createReadStream, readFileSync } from 'node:fs';
import { buildProgram, type DoctorFlags, type PreviewFlags, type ServeFlags } from './cli/program.ts';
import { PreviewInputError, previewStream } from './cli/preview.ts';
import { mutationPolicy, pullSecretSpec } from './admission/policy.ts';
import { ConfigError } from './config/config-error.ts';
import { loadConfig } from './config/load.ts';
import { namespaceScope } from './k8s/namespace-scope.ts';

const EXIT_CONFIG = 1;
const EXIT_INPUT = 2;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function ownNamespace(flag: string | undefined): string {
  if (flag) return flag;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return 'pullgate';
  }
}

function fail(code: number, message: string): never {
  process.stderr.write(`pullgate: ${message}\n`);
  process.exit(code);
}

/** An explicit kubeconfig (flag, then $KUBECONFIG), or undefined for in-cluster credentials. */
function kubeconfigFile(flag: string | undefined): string | undefined {
  return flag ?? (process.env.KUBECONFIG || undefined);
}

async function serve(flags: ServeFlags): Promise<void> {
  // Loaded here, not at the top: the server stack (the Kubernetes client alone is most of it) costs
  // every other command a second of start-up and tens of MB.
  const [{ createLogger }, { startPullgate }] = await Promise.all([import('./logger.ts'), import('./server/start.ts')]);
  const logger = createLogger({ level: flags.logLevel });
  const kubeconfig = kubeconfigFile(flags.kubeconfig);
  const namespace = ownNamespace(flags.namespace);
  const service = `${flags.serviceName}.${namespace}.svc`;
  const running = await startPullgate({
    configFile: flags.config,
    tls:
      flags.tls === 'self-managed'
        ? {
            selfManaged: {
              caSecretName: flags.tlsCaSecret,
              webhookConfigurationName: flags.webhookConfiguration,
              sans: [service, `${service}.cluster.local`, ...flags.tlsSan],
              validityMs: flags.tlsCertValidity,
            },
          }
        : { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile },
    host: flags.host,
    port: flags.port,
    metricsPort: flags.metricsPort,
    ownNamespace: namespace,
    ...(kubeconfig ? { kubeconfig } : {}),
    bodyLimit: flags.maxReviewBytes,
    maxInFlightBytes: flags.maxInFlightBytes,
    maxConnections: flags.maxConnections,
    ...(flags.installGuard !== undefined ? { installGuard: flags.installGuard } : {}),
    logger,
  }).catch((err: Error) => fail(EXIT_CONFIG, err instanceof ConfigError ? err.message : `cannot start: ${err.message}`));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    running.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The input as UTF-8 text chunks; a read error ends the command with exit 2. */
async function* inputChunks(file: string, source: string): AsyncGenerator<string> {
  const stream = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream) yield chunk as string;
  } catch (err) {
    fail(EXIT_INPUT, `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function preview(flags: PreviewFlags): Promise<void> {
  const loaded = await loadConfig(flags.config).catch((err: Error) => fail(EXIT_CONFIG, err.message));
  const source = flags.file === '-' ? 'stdin' : flags.file;
  const scope = namespaceScope(loaded.config.namespaces, ownNamespace(undefined));
  // The yaml parser reads process.env.LOG_TOKENS for every token, and each read of Node's live
  // environment is a native call: a plain copy makes parsing a quarter faster. Preview starts no
  // process that would need later changes to it.
  process.env = { ...process.env };
  // A reader that stops early (`| head`) is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => fail(EXIT_CONFIG, `cannot write the output: ${err.code ?? err.message}`));
  const outputs = previewStream(inputChunks(flags.file, source), {
    policy: mutationPolicy(loaded.config, loaded.settings),
    secret: pullSecretSpec(loaded.settings, loaded.license),
    isExcludedNamespace: (ns) => scope.isExcluded(ns),
    source,
  });
  try {
    // Each document goes out when it is ready; on an input error, those before it already have.
    for await (const output of outputs) {
      for (const warning of output.warnings) process.stderr.write(`warning: ${warning}\n`);
      if (output.text && !process.stdout.write(output.text)) await once(process.stdout, 'drain');
    }
  } catch (err) {
    if (err instanceof PreviewInputError) fail(EXIT_INPUT, err.message);
    throw err;
  }
}

async function doctor(flags: DoctorFlags): Promise<void> {
  // The Kubernetes client only: doctor needs neither the server nor its logger.
  const [{ KubeConfig }, { runDoctor }, { DOCTOR_EXIT }] = await Promise.all([import('@kubernetes/client-node'), import('./doctor/run-doctor.ts'), import('./doctor/check.ts')]);
  const kubeConfig = new KubeConfig();
  try {
    const file = kubeconfigFile(flags.kubeconfig);
    if (file) kubeConfig.loadFromFile(file);
    else kubeConfig.loadFromDefault();
    if (flags.context !== undefined) {
      if (!kubeConfig.getContextObject(flags.context)) throw new Error(`no context ${flags.context} in the kubeconfig`);
      kubeConfig.setCurrentContext(flags.context);
    }
    if (!kubeConfig.getCurrentCluster()) throw new Error('the kubeconfig names no cluster');
  } catch (err) {
    fail(DOCTOR_EXIT.CANNOT_RUN, `cannot use the kubeconfig: ${(err as Error).message}`);
  }
  const { report, exitCode } = await runDoctor({
    kubeConfig,
    ownNamespace: flags.namespace,
    output: flags.output,
    ...(flags.config !== undefined ? { configFile: flags.config } : {}),
    ...(flags.license !== undefined ? { licenseFile: flags.license } : {}),
    ...(flags.webhook !== undefined ? { webhookName: flags.webhook } : {}),
  }).catch((err: Error) => fail(DOCTOR_EXIT.CANNOT_RUN, `cannot examine the cluster: ${err.message}`));
  process.stdout.write(report);
  process.exitCode = exitCode;
}

await buildProgram({ serve, preview, doctor }, version()).parseAsync(process.argv);
