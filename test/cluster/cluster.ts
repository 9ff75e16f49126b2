// A real, minimal Kubernetes control plane for end-to-end tests: etcd, kube-apiserver and
// kube-controller-manager on 127.0.0.1, no scheduler or kubelet (Pods are created, go through
// admission — pullgate's webhook included — and stay Pending). See README.md for the why of flags.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, generateRsaKeyPair, issueClientCert, issueServingCert } from '../../src/tls/certificates.ts';
import { eventually } from '../support/eventually.ts';
import { httpGet } from '../support/http-get.ts';
import { clusterClient, type ClusterClient, type ClusterInfo } from './client.ts';
import { ensureBinaries } from './ensure-binaries.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { freePorts } from './ports.ts';
import { installExitHook, startSupervised, type SupervisedProcess } from './supervised-process.ts';

/** kube-controller-manager controllers the tests need (canonical v1.36 names; see README). */
export const DEFAULT_CONTROLLERS = [
  'serviceaccount-token-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'clusterrole-aggregation-controller',
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'job-controller',
  'cronjob-controller',
];

/**
 * The audit policy of `audit: true`: every request on Secrets, Leases and Namespaces, by anyone,
 * at level Metadata (who, what, when, the response code — never a Secret's data); nothing else.
 * RequestReceived is omitted: every request's ResponseComplete event says the same and more.
 */
export const DEFAULT_AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, namespaces]
      - group: coordination.k8s.io
        resources: [leases]
  - level: None
`;

export interface StartClusterOptions {
  /** Skip build.sh and use these binaries. */
  binDir?: string;
  /** Extra SANs for the API server's serving certificate. */
  extraSans?: string[];
  extraApiServerArgs?: string[];
  /**
   * Write an API server audit log (`auditLogPath` in the ClusterInfo): `true` for
   * DEFAULT_AUDIT_POLICY, or an audit.k8s.io/v1 Policy document of one's own.
   */
  audit?: true | { policy?: string };
  /** kube-controller-manager --controllers; [] starts no controller manager at all. */
  controllers?: string[];
  /** Keep the temp dir (logs, etcd data) after stop(). Also forced by PULLGATE_CLUSTER_KEEP=1. */
  keepDir?: boolean;
  startupTimeoutMs?: number;
  /** Progress messages; default: to stderr. */
  log?: (message: string) => void;
}

export interface Cluster extends ClusterInfo, ClusterClient {
  /** Serialisable part, for vitest provide/inject; rebuild the client with clusterClient(info). */
  info: ClusterInfo;
  processes: SupervisedProcess[];
  /** Milliseconds from startCluster() (binaries ready) to each milestone. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[cluster] ${m}\n`));
  const binDir = opts.binDir ?? (await ensureBinaries());
  const bin = (name: string): string => join(binDir, name);
  const timeoutMs = opts.startupTimeoutMs ?? 120_000;
  const started = Date.now();
  const timings: Record<string, number> = {};
  const mark = (name: string): void => {
    timings[name] = Date.now() - started;
  };

  const dir = mkdtempSync(join(tmpdir(), 'pullgate-cluster-'));
  const processes: SupervisedProcess[] = [];
  let stopped = false;
  // 'pending' until stop() removes the dir, or keeps it (keepDir, or logs of a failed start).
  let dirFate: 'pending' | 'removed' | 'kept' = 'pending';
  const keepDir = opts.keepDir === true || process.env['PULLGATE_CLUSTER_KEEP'] === '1';
  const shutdown = async (keep: boolean): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (keep) dirFate = 'kept';
    // Reverse start order: the controller manager and API server shut down cleanly while etcd lives.
    for (const p of [...processes].reverse()) await p.stop();
    if (!keep) {
      rmSync(dir, { recursive: true, force: true });
      dirFate = 'removed';
    }
  };
  const stop = (): Promise<void> => shutdown(keepDir);
  // Exit before stop() has finished (uncaught error, process.exit): the servers are SIGKILLed by
  // the supervised-process hook (installed first, so it runs first); the temp dir goes here.
  installExitHook();
  process.on('exit', () => {
    if (dirFate === 'pending' && !keepDir) rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  });

  try {
    const [etcdPort, etcdPeerPort, apiPort, kcmPort] = (await freePorts(4)) as [number, number, number, number];
    const server = `https://127.0.0.1:${apiPort}`;
    const file = (name: string, content: string): string => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };

    // --- certificates
    const ca = createCertificateAuthority('pullgate-e2e-ca');
    const serving = issueServingCert(ca, [
      // The in-cluster names of the API server, for anything that looks it up the usual way.
      '10.0.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local',
      ...(opts.extraSans ?? []),
    ], 'kube-apiserver');
    const admin = issueClientCert(ca, 'pullgate-e2e-admin', ['system:masters']);
    const saKeys = generateRsaKeyPair();
    const caFile = file('ca.crt', ca.certPem);
    const servingCert = file('apiserver.crt', serving.certPem);
    const servingKey = file('apiserver.key', serving.keyPem);
    const saPub = file('sa.pub', saKeys.publicKeyPem);
    const saKey = file('sa.key', saKeys.privateKeyPem);
    const kubeconfigPath = writeKubeconfig(join(dir, 'admin.kubeconfig'), server, ca.certPem, 'pullgate-e2e-admin', {
      clientCertPem: admin.certPem,
      clientKeyPem: admin.keyPem,
    });
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    mark('certs');

    // --- etcd
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startSupervised('etcd', bin('etcd'), [
      '--name=e2e',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=e2e=${peerUrl}`,
      // Test data is throwaway: fsync only slows every write down.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ], join(dir, 'etcd.log'), keepDir ? undefined : { ...process.env, WITH_PARENT_RM_ON_ORPHAN: dir });
    processes.push(etcd);
    log(`etcd pid ${etcd.pid} on ${etcdUrl}, log ${etcd.logPath}`);
    await eventually('etcd /health', async () => (await httpGet(`${etcdUrl}/health`)).body.includes('"health":"true"'), {
      timeoutMs,
      watch: [etcd],
      retryErrors: true,
    });
    mark('etcd');

    // --- kube-apiserver
    const auditLogPath = opts.audit ? join(dir, 'audit.log') : undefined;
    const auditPolicy = (opts.audit === true ? undefined : opts.audit?.policy) ?? DEFAULT_AUDIT_POLICY;
    const auditArgs = auditLogPath
      ? [
          `--audit-policy-file=${file('audit-policy.yaml', auditPolicy)}`,
          `--audit-log-path=${auditLogPath}`,
          // Each event is written before the response is sent: a request a client has seen
          // answered is already in the log.
          '--audit-log-mode=blocking',
          '--audit-log-format=json',
          // Never rotated: byte offsets taken as marks stay valid for the whole run.
          '--audit-log-maxsize=0',
        ]
      : [];
    const apiserver = startSupervised('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      // Without a default route the server cannot pick an address itself and exits.
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${servingCert}`,
      `--tls-private-key-file=${servingKey}`,
      `--client-ca-file=${caFile}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--allow-privileged=true',
      // The default reconciler keeps trying to publish 127.0.0.1 as the `kubernetes` Service's
      // Endpoints, which validation rejects (loopback). Nothing here routes to that Service.
      '--endpoint-reconciler-type=none',
      ...auditArgs,
      ...(opts.extraApiServerArgs ?? []),
    ], join(dir, 'kube-apiserver.log'));
    processes.push(apiserver);
    log(`kube-apiserver pid ${apiserver.pid} on ${server}, log ${apiserver.logPath}`);
    await eventually('kube-apiserver /readyz', async () => (await httpGet(`${server}/readyz`, adminTls)).status === 200, {
      timeoutMs,
      watch: [etcd, apiserver],
      retryErrors: true,
    });
    mark('apiserver');

    // --- kube-controller-manager
    const controllers = opts.controllers ?? DEFAULT_CONTROLLERS;
    if (controllers.length > 0) {
      mkdirSync(join(dir, 'kcm-certs'));
      const kcm = startSupervised('kube-controller-manager', bin('kube-controller-manager'), [
        `--kubeconfig=${kubeconfigPath}`,
        // No --authentication/authorization-kubeconfig: delegated auth would look for a
        // requestheader CA this API server does not have and log errors forever; /healthz, the one
        // endpoint used here, is always allowed anyway.
        '--leader-elect=false',
        `--controllers=${controllers.join(',')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${caFile}`,
        '--use-service-account-credentials=false',
      ], join(dir, 'kube-controller-manager.log'));
      processes.push(kcm);
      log(`kube-controller-manager pid ${kcm.pid}, log ${kcm.logPath}`);
      const watch = [etcd, apiserver, kcm];
      await eventually('kube-controller-manager /healthz', async () => (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true })).status === 200, {
        timeoutMs,
        watch,
        retryErrors: true,
      });
      mark('controller-manager');
      // The serviceaccount controller is running for real once it has filled in namespace default.
      if (controllers.includes('serviceaccount-controller')) {
        await eventually('ServiceAccount default/default', async () => (await httpGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminTls)).status === 200, {
          timeoutMs,
          watch,
          retryErrors: true,
        });
        mark('default-serviceaccount');
      }
    }
    log(`control plane ready in ${Date.now() - started}ms (${dir})`);

    const info: ClusterInfo = { dir, binDir, server, caPem: ca.certPem, kubeconfigPath, ...(auditLogPath ? { auditLogPath } : {}) };
    return { ...info, info, ...clusterClient(info), processes, timings, stop };
  } catch (err) {
    // Keep the logs the error message points at.
    await shutdown(true);
    log(`startup failed; logs kept in ${dir}`);
    throw err;
  }
}
