#!/usr/bin/env node
// The process edge: arguments, environment, standard streams, signals and exit codes live here
// and nowhere else.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { buildProgram, type PreviewFlags, type ServeFlags } from './cli/program.ts';
import { PreviewInputError, previewManifests } from './cli/preview.ts';
import { mutationPolicy, pullSecretSpec } from './admission/policy.ts';
import { ConfigError, loadConfig } from './config.ts';
import { namespaceScope } from './k8s/namespace-scope.ts';
import { createLogger } from './logger.ts';
import { startPullgate } from './server/start.ts';

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
  const logger = createLogger({ level: flags.logLevel });
  const kubeconfig = kubeconfigFile(flags.kubeconfig);
  const running = await startPullgate({
    configFile: flags.config,
    tls: { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile },
    host: flags.host,
    port: flags.port,
    metricsPort: flags.metricsPort,
    ownNamespace: ownNamespace(flags.namespace),
    ...(kubeconfig ? { kubeconfig } : {}),
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

async function preview(flags: PreviewFlags): Promise<void> {
  const loaded = await loadConfig(flags.config).catch((err: Error) => fail(EXIT_CONFIG, err.message));
  const source = flags.file === '-' ? 'stdin' : flags.file;
  const input = await (flags.file === '-' ? text(process.stdin) : readFile(flags.file, 'utf8')).catch((err: NodeJS.ErrnoException) =>
    fail(EXIT_INPUT, `cannot read ${source}: ${err.code ?? err.message}`),
  );
  const scope = namespaceScope(loaded.config.namespaces, ownNamespace(undefined));
  try {
    const result = previewManifests(input, {
      policy: mutationPolicy(loaded.config, loaded.settings),
      secret: pullSecretSpec(loaded.settings, loaded.license),
      isExcludedNamespace: (ns) => scope.isExcluded(ns),
      source,
    });
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    process.stdout.write(result.output);
  } catch (err) {
    if (err instanceof PreviewInputError) fail(EXIT_INPUT, err.message);
    throw err;
  }
}

await buildProgram({ serve, preview }, version()).parseAsync(process.argv);
