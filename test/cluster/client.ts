// kubectl and helm against a running test cluster. Built from plain, serialisable ClusterInfo so a
// vitest worker can use a cluster that globalSetup started in another process (provide/inject).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeKubeconfig } from './kubeconfig.ts';

export interface ClusterInfo {
  /** Temp directory holding certificates, kubeconfigs, logs and etcd data. */
  dir: string;
  binDir: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** CA of the API server's serving certificate and of client certificates. */
  caPem: string;
  /** Admin kubeconfig (client certificate in system:masters). */
  kubeconfigPath: string;
}

export interface RunOptions {
  input?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ClusterClient {
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
  helm(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Kubeconfig file authenticating as the ServiceAccount (a token from `kubectl create token`). */
  serviceAccountKubeconfig(namespace: string, name: string, duration?: string): Promise<string>;
}

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(command: string, result: RunResult) {
    super(`${command} exited with ${result.code}:\n${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdin.on('error', () => {}); // EPIPE if the command exits before reading its input
    child.stdin.end(opts.input ?? '');
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result = { stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr, code: code ?? 128 };
      if (result.code !== 0 && !opts.allowFailure) {
        const name = binary.split('/').at(-1);
        reject(new CommandError(`${name} ${args.join(' ')}`, result));
      } else resolve(result);
    });
  });
}

export function clusterClient(info: ClusterInfo): ClusterClient {
  // Keep kubectl's discovery cache and all of helm's state inside the cluster dir, never in $HOME.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: info.kubeconfigPath,
    KUBECACHEDIR: join(info.dir, 'kube-cache'),
    HELM_CACHE_HOME: join(info.dir, 'helm', 'cache'),
    HELM_CONFIG_HOME: join(info.dir, 'helm', 'config'),
    HELM_DATA_HOME: join(info.dir, 'helm', 'data'),
  };
  const kubectl = (args: string[], opts: RunOptions = {}): Promise<RunResult> =>
    run(join(info.binDir, 'kubectl'), [`--kubeconfig=${opts.kubeconfig ?? info.kubeconfigPath}`, ...args], env, opts);
  const helm = (args: string[], opts: RunOptions = {}): Promise<RunResult> =>
    run(join(info.binDir, 'helm'), [`--kubeconfig=${opts.kubeconfig ?? info.kubeconfigPath}`, ...args], env, opts);

  const serviceAccountKubeconfig = async (namespace: string, name: string, duration = '24h'): Promise<string> => {
    const { stdout } = await kubectl(['create', 'token', name, '-n', namespace, `--duration=${duration}`]);
    const path = join(info.dir, `sa-${namespace}-${name}.kubeconfig`);
    return writeKubeconfig(path, info.server, info.caPem, `system:serviceaccount:${namespace}:${name}`, { token: stdout.trim() }, namespace);
  };

  return { kubectl, helm, serviceAccountKubeconfig };
}
