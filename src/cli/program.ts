import { Command, InvalidArgumentError, Option } from 'commander';

export interface ServeFlags {
  config: string;
  port: number;
  metricsPort: number;
  host: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tls: 'files' | 'self-managed';
  tlsCaSecret: string;
  webhookConfiguration: string;
  serviceName: string;
  installGuard?: string;
  tlsSan: string[];
  tlsCertValidity: number;
  namespace?: string;
  kubeconfig?: string;
  logLevel: string;
  maxReviewBytes?: number;
  maxInFlightBytes?: number;
  maxConnections?: number;
}

export interface PreviewFlags {
  config: string;
  file: string;
}

export interface DoctorFlags {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  config?: string;
  license?: string;
  webhook?: string;
  output: 'text' | 'json';
}

export interface CommandHandlers {
  serve(flags: ServeFlags): Promise<void>;
  preview(flags: PreviewFlags): Promise<void>;
  doctor(flags: DoctorFlags): Promise<void>;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

const BYTE_UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2 };

/** A size in bytes: digits, optionally followed by Ki or Mi (as in Kubernetes quantities). */
function bytes(value: string): number {
  const match = /^(\d+)(Ki|Mi)?$/.exec(value);
  const n = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? '']! : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive size in bytes, e.g. 8388608 or 8Mi');
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: digits and a unit (s, m, h, d), e.g. 7d or 90s; in milliseconds. At least 10 s. */
function duration(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  const ms = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : NaN;
  if (!Number.isSafeInteger(ms) || ms < 10_000) throw new InvalidArgumentError('must be a duration of at least 10s, e.g. 7d, 12h, 90s');
  return ms;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** The command line; parsing only. What each command does lives in its handler. */
export function buildProgram(handlers: CommandHandlers, version: string): Command {
  const program = new Command('pullgate')
    .description('Kubernetes admission webhook that pulls a vendor\'s private images through its license-gated registry proxy')
    .version(version)
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the mutating admission webhook (HTTPS POST /mutate, GET /healthz, /readyz; Prometheus /metrics on its own port)')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .addOption(new Option('--port <port>', 'HTTPS port').default(8443).argParser(port))
    .addOption(new Option('--metrics-port <port>', 'plain-HTTP Prometheus metrics port').default(9090).argParser(port))
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--tls-cert-file <file>', 'serving certificate (PEM); reloaded when it changes', '/etc/pullgate/tls/tls.crt')
    .option('--tls-key-file <file>', 'serving private key (PEM); reloaded when it changes', '/etc/pullgate/tls/tls.key')
    .addOption(new Option('--tls <mode>', 'files: serve --tls-cert-file/--tls-key-file (cert-manager or any issuer); self-managed: a CA in a Secret of its own namespace, a serving certificate of its own, the CA kept in its webhook configuration\'s caBundle').default('files').choices(['files', 'self-managed']))
    .option('--tls-ca-secret <name>', 'self-managed: the CA Secret in its own namespace, created by the first replica', 'pullgate-ca')
    .option('--webhook-configuration <name>', 'self-managed: its own MutatingWebhookConfiguration, whose caBundle it keeps', 'pullgate')
    .option('--service-name <name>', 'self-managed: the Service in front of it; the serving certificate names <name>.<namespace>.svc', 'pullgate')
    .option('--install-guard <name>', "the chart's install guard, a MutatingWebhookConfiguration that refuses Pods until pullgate serves: deleted once this replica serves (and its webhook configuration holds its CA)")
    .addOption(new Option('--tls-san <name>', 'self-managed: another DNS name or IP address for the serving certificate (repeatable)').default([]).argParser(collect))
    .addOption(new Option('--tls-cert-validity <duration>', 'self-managed: validity of each serving certificate, renewed at two thirds of it').default(7 * 86_400_000, '7d').argParser(duration))
    .option('--namespace <name>', "pullgate's own namespace, never mutated (default: $POD_NAMESPACE, else the service account's)")
    .option('--kubeconfig <file>', 'kubeconfig for the API server (default: in-cluster service account)')
    .addOption(new Option('--log-level <level>', 'log level').default('info').choices(['trace', 'debug', 'info', 'warn', 'error']))
    .addOption(new Option('--max-review-bytes <size>', 'largest AdmissionReview accepted; larger ones are refused with 413 (default 8Mi; see README, Limits)').argParser(bytes))
    .addOption(new Option('--max-in-flight-bytes <size>', 'body bytes of the reviews handled at once; past it a review is refused with 429 (default: 1.25 × --max-review-bytes)').argParser(bytes))
    .addOption(new Option('--max-connections <n>', 'connections open at once on the HTTPS port; past it new ones are closed (default 512)').argParser(positiveInteger))
    .action((flags: ServeFlags) => handlers.serve(flags));

  program
    .command('preview')
    .description('print manifests as pullgate would admit them, plus the pull Secret it would create; no cluster needed')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('-f, --file <file>', 'multi-document YAML to read, "-" for stdin (e.g. piped from helm template)', '-')
    .addHelpText('after', '\nExample:\n  helm template my-release ./chart | pullgate preview --config pullgate.yaml -f -')
    .action((flags: PreviewFlags) => handlers.preview(flags));

  program
    .command('doctor')
    .description('check an installation, with your own credentials: webhook configuration, caBundle, certificate, license, pull secrets, and a dry-run Pod that must come back rewritten')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <name>', "pullgate's namespace: its Deployment, ConfigMap, license and TLS Secrets", 'pullgate')
    .option('-c, --config <file>', "configuration file to check against (default: the ConfigMap pullgate's Deployment mounts)")
    .option('--license <file>', 'License document (default: the file the configuration names, from the Secret the Deployment mounts there, else, with --config, that local file)')
    .option('--webhook <name>', "MutatingWebhookConfiguration (default: the Deployment's name, else pullgate)")
    .addOption(new Option('-o, --output <format>', 'report format').default('text').choices(['text', 'json']))
    .addHelpText('after', '\nExit codes: 0 nothing wrong (warnings may be listed), 1 a check failed, 2 the cluster could not be examined.')
    .action((flags: DoctorFlags) => handlers.doctor(flags));

  return program;
}
