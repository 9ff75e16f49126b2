// kubectl and helm against a running test cluster. Built from plain, serialisable ClusterInfo so a
// vitest worker can use a cluster that globalSetup started in another process (provide/inject).
import { join } from 'node:path';
import { run, type RunResult } from '../support/run.ts';
import { writeKubeconfig } from './kubeconfig.ts';

export { CommandError, type RunResult } from '../support/run.ts';

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
  /** The API server's audit log (JSON lines), when the cluster was started with `audit`. */
  auditLogPath?: string;
}

export interface RunOptions {
  input?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface ClusterClient {
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
  helm(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Kubeconfig file authenticating as the ServiceAccount (a token from `kubectl create token`). */
  serviceAccountKubeconfig(namespace: string, name: string, duration?: string): Promise<string>;
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
  const tool = (name: string) => async (args: string[], opts: RunOptions = {}): Promise<RunResult> =>
    run(join(info.binDir, name), [`--kubeconfig=${opts.kubeconfig ?? info.kubeconfigPath}`, ...args], {
      env,
      input: opts.input ?? '',
      check: !opts.allowFailure,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  const kubectl = tool('kubectl');
  const helm = tool('helm');

  const serviceAccountKubeconfig = async (namespace: string, name: string, duration = '24h'): Promise<string> => {
    const { stdout } = await kubectl(['create', 'token', name, '-n', namespace, `--duration=${duration}`]);
    const path = join(info.dir, `sa-${namespace}-${name}.kubeconfig`);
    return writeKubeconfig(path, info.server, info.caPem, `system:serviceaccount:${namespace}:${name}`, { token: stdout.trim() }, namespace);
  };

  return { kubectl, helm, serviceAccountKubeconfig };
}
