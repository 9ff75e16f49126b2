import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { loadConfig } from '../config/load.ts';
import { DEFAULT_LEASE_NAME } from '../k8s/access-policy.ts';
import { admissionPullSecret } from '../k8s/admission-pull-secret.ts';
import { ApiCallBudget } from '../k8s/api-call-budget.ts';
import { clusterState } from '../k8s/cluster-state.ts';
import { copiedCredential, type CredentialSource } from '../k8s/credential-source.ts';
import { startLeaderElection } from '../k8s/leader-lease.ts';
import { namespaceGate } from '../k8s/namespace-gate.ts';
import { namespaceScope } from '../k8s/namespace-scope.ts';
import { secretReconciler } from '../k8s/secret-reconciler.ts';
import { kubeSecretsApi } from '../k8s/secrets-api.ts';
import { loadKubeConfig } from '../k8s/kube-config.ts';
import { installGuard } from '../k8s/install-guard.ts';
import { followLicense } from '../license/license-source.ts';
import type { Logger } from '../logger.ts';
import { placeholderTls, readTlsFiles, reloadOnChange, type TlsFiles } from '../tls/serving-certificate.ts';
import { startSelfManagedTls, type SelfManagedTlsSettings } from './self-managed-tls-wiring.ts';
import { admissionContext, liveSettings } from './admission-state.ts';
import { createHttpsServer } from './https-server.ts';
import { createMetrics, createMetricsServer } from './metrics.ts';
import { createMutateHandler } from './mutate-handler.ts';
import { createOpsApp } from './ops-app.ts';
import { DEFAULT_BODY_LIMIT } from './read-body.ts';

export interface ServeOptions {
  configFile: string;
  /** Certificate files (cert-manager or any issuer), or self-managed TLS from a CA in a Secret. */
  tls: TlsFiles | SelfManagedTlsSettings;
  host: string;
  port: number;
  metricsPort: number;
  /** pullgate's own namespace, always excluded. */
  ownNamespace: string;
  /** A kubeconfig file; undefined means in-cluster credentials. */
  kubeconfig?: string;
  bodyLimit?: number;
  /** Body bytes of the reviews handled at once (default: 1.25 × bodyLimit). */
  maxInFlightBytes?: number;
  /** Connections open at once on the HTTPS port (default DEFAULT_CONNECTION_LIMITS.maxConnections). */
  maxConnections?: number;
  /** The chart's install guard (serve --install-guard), deleted once this replica serves. */
  installGuard?: string;
  /** This replica's name in the leader Lease (default: host name and a random suffix). */
  identity?: string;
  logger: Logger;
}

export interface RunningPullgate {
  port: number;
  metricsPort: number;
  /** Graceful stop: readiness fails, in-flight requests finish, idle connections close. */
  shutdown(): Promise<void>;
}

/** Kubernetes API calls waiting at once, across admission, the reconciler and the Lease. */
const MAX_API_CALLS_IN_FLIGHT = 32;
/** Longest one API call may take: below the admission budget, so admission can still answer. */
const API_CALL_DEADLINE_MS = 4_000;
// Longest a stop waits for in-flight admissions (their own deadline is the webhook's 10 s).
const DRAIN_TIMEOUT_MS = 15_000;

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets in-flight requests finish, closes idle connections, then forces the rest. */
function close(server: HttpServer | HttpsServer): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Things to stop, in reverse order of start; run on shutdown and on a failed start alike. */
class Stoppables {
  readonly #stops: Array<() => unknown> = [];
  add(stop: () => unknown): void {
    this.#stops.push(stop);
  }
  async stopAll(): Promise<void> {
    for (const stop of this.#stops.splice(0).reverse()) await stop();
  }
}

export async function startPullgate(options: ServeOptions): Promise<RunningPullgate> {
  const { logger, ownNamespace } = options;
  const loaded = await loadConfig(options.configFile);
  const { config } = loaded;
  const metrics = createMetrics();
  const kc = loadKubeConfig(options.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const budget = new ApiCallBudget({
    maxInFlight: MAX_API_CALLS_IN_FLIGHT,
    deadlineMs: API_CALL_DEADLINE_MS,
    onInFlightChange: (n) => metrics.apiCallsInFlight.set(n),
  });
  const secretsApi = kubeSecretsApi(core, budget);
  const live = liveSettings(loaded);
  const scope = namespaceScope(config.namespaces, ownNamespace);
  const pullSecretName = loaded.settings.pullSecretName;
  const stoppables = new Stoppables();

  try {
    // Filled in below; the watches start only once everything they call exists.
    let onCredentialChange = () => {};
    let reconcilerRef: ReturnType<typeof secretReconciler> | undefined;

    const copied: CredentialSource | undefined = config.credentials
      ? copiedCredential({ kubeConfig: kc, core, namespace: ownNamespace, name: config.credentials.dockerConfigSecret, logger, onChange: () => onCredentialChange() })
      : undefined;
    const credential = () => (copied ? copied.current() : { dockerConfigJson: live.derivedCredential() });

    let leading = false;
    const activate = () => {
      if (leading && state.synced()) reconcilerRef?.setActive(true);
    };
    const state = clusterState({
      kubeConfig: kc,
      core,
      pullSecretName,
      logger,
      onNamespaceChange: (ns) => reconcilerRef?.enqueue(ns),
      onPullSecretChange: (ns) => reconcilerRef?.enqueue(ns),
      onSynced: activate,
    });
    const reconciler = secretReconciler({
      state,
      scope,
      api: secretsApi,
      pullSecretName,
      credential,
      logger,
      onResult: (result) => metrics.reconciles.inc({ result }),
    });
    reconcilerRef = reconciler;
    onCredentialChange = () => reconciler.enqueueAll();
    stoppables.add(() => reconciler.stop());

    state.start();
    stoppables.add(() => state.stop());
    if (copied) {
      copied.start();
      stoppables.add(() => copied.stop());
    }

    const election = startLeaderElection({
      api: kc.makeApiClient(CoordinationV1Api),
      namespace: ownNamespace,
      // The Lease the replicas compete for; only its holder reconciles every namespace.
      name: DEFAULT_LEASE_NAME,
      identity: options.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`,
      callWithDeadline: (call) => budget.run(call),
      onStartedLeading: () => {
        leading = true;
        metrics.leader.set(1);
        logger.info('leading: reconciling every namespace in scope');
        activate();
      },
      onStoppedLeading: () => {
        leading = false;
        metrics.leader.set(0);
        logger.info('no longer leading: admission only');
        reconciler.setActive(false);
      },
      logger,
    });
    stoppables.add(() => election.stop());

    const licenseWatch = followLicense(config.licenseFile, loaded.license, (license) => {
      live.setLicense(license);
      if (!copied) onCredentialChange();
    }, logger);
    stoppables.add(() => licenseWatch.close());

    const ensure = admissionPullSecret({
      state,
      api: secretsApi,
      pullSecretName: () => pullSecretName,
      credential,
      onResult: (namespace, result) => {
        metrics.pullSecretEnsures.inc({ result });
        if (result === 'created') logger.info({ namespace, secret: pullSecretName }, 'pull secret created for an admitted Pod');
      },
    });
    const admission = admissionContext({ live, serves: namespaceGate({ scope, state, core, budget }), ensurePullSecret: ensure });

    let listening = false;
    let draining = false;
    let tlsReady = () => true;
    // Files: the CA is in the webhook configuration as installed (caBundle, or cert-manager's injection).
    let caInWebhook = () => true;
    const ready = () => listening && !draining && tlsReady() && state.synced() && (copied?.synced() ?? true);
    const tlsFiles = 'selfManaged' in options.tls ? undefined : options.tls;
    const server = createHttpsServer(
      tlsFiles ? readTlsFiles(tlsFiles) : placeholderTls(),
      createMutateHandler({ admission, logger, metrics, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT, maxInFlightBytes: options.maxInFlightBytes }),
      createOpsApp({ ready }, logger),
      logger,
      { draining: () => draining, metrics, ...(options.maxConnections !== undefined ? { limits: { maxConnections: options.maxConnections } } : {}) },
    );
    const metricsServer = createMetricsServer(metrics);
    stoppables.add(() => Promise.all([close(server), close(metricsServer)]));
    if (tlsFiles) {
      const tlsWatch = reloadOnChange(server, tlsFiles, logger);
      stoppables.add(() => tlsWatch.close());
    } else {
      const selfManaged = startSelfManagedTls({ settings: (options.tls as SelfManagedTlsSettings).selfManaged, server, kubeConfig: kc, secretsApi, budget, ownNamespace, logger });
      tlsReady = selfManaged.ready;
      caInWebhook = selfManaged.caInWebhook;
      stoppables.add(() => selfManaged.stop());
    }

    const port = await listen(server, options.port, options.host);
    const metricsPort = await listen(metricsServer, options.metricsPort, options.host);
    // After start, a server error (say EMFILE on accept) is logged, not left to crash the process.
    const logServerError = (err: Error) => logger.error({ err: err.message }, 'server error');
    server.on('error', logServerError);
    metricsServer.on('error', logServerError);
    listening = true;
    if (options.installGuard !== undefined) {
      const guard = installGuard({ kubeConfig: kc, budget, name: options.installGuard, serving: () => ready() && caInWebhook(), logger });
      guard.start();
      stoppables.add(() => guard.stop());
    }

    for (const served of [config.namespaces.application, ...config.namespaces.additional]) {
      if (served === ownNamespace) logger.warn({ namespace: served }, "configured namespace is pullgate's own namespace, which is never served");
    }
    const { settings } = loaded;
    logger.info(
      {
        port,
        metricsPort,
        proxyDomain: settings.proxyDomain,
        registryDomain: settings.registryDomain,
        appSlug: settings.appSlug,
        pullSecret: settings.pullSecretName,
        credential: config.credentials ? `secret ${ownNamespace}/${config.credentials.dockerConfigSecret}` : 'license',
        privateRegistries: config.privateRegistries.length,
        licenseExpiresAt: loaded.license.expiresAt?.toISOString() ?? 'never',
      },
      'pullgate serving',
    );

    return {
      port,
      metricsPort,
      async shutdown() {
        draining = true;
        await stoppables.stopAll();
        logger.info('pullgate stopped');
      },
    };
  } catch (err) {
    // Nothing opened so far may outlive a failed start: listeners, watches, timers.
    await stoppables.stopAll();
    throw err;
  }
}
