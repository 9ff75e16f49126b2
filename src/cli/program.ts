import { Command, InvalidArgumentError, Option } from 'commander';

export interface ServeFlags {
  config: string;
  port: number;
  metricsPort: number;
  host: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  namespace?: string;
  kubeconfig?: string;
  logLevel: string;
}

export interface PreviewFlags {
  config: string;
  file: string;
}

export interface CommandHandlers {
  serve(flags: ServeFlags): Promise<void>;
  preview(flags: PreviewFlags): Promise<void>;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
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
    .option('--namespace <name>', "pullgate's own namespace, never mutated (default: $POD_NAMESPACE, else the service account's)")
    .option('--kubeconfig <file>', 'kubeconfig for the API server (default: in-cluster service account)')
    .addOption(new Option('--log-level <level>', 'log level').default('info').choices(['trace', 'debug', 'info', 'warn', 'error']))
    .action((flags: ServeFlags) => handlers.serve(flags));

  program
    .command('preview')
    .description('print manifests as pullgate would admit them, plus the pull Secret it would create; no cluster needed')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('-f, --file <file>', 'multi-document YAML to read, "-" for stdin (e.g. piped from helm template)', '-')
    .addHelpText('after', '\nExample:\n  helm template my-release ./chart | pullgate preview --config pullgate.yaml -f -')
    .action((flags: PreviewFlags) => handlers.preview(flags));

  return program;
}
