import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pullSecretSpec } from '../admission/policy.ts';
import { loadConfig } from '../config.ts';
import { PullSecretKeeper } from '../k8s/pull-secret-keeper.ts';
import { followLicense } from '../license/license-source.ts';
import type { Logger } from '../logger.ts';
import { readTlsFiles, reloadOnChange, type TlsFiles } from '../tls/serving-certificate.ts';
import { createAdmissionState } from './admission-state.ts';
import { createHttpsServer } from './https-server.ts';
import { createMetrics, createMetricsServer } from './metrics.ts';
import { createMutateHandler } from './mutate-handler.ts';
import { createOpsApp } from './ops-app.ts';
import { DEFAULT_BODY_LIMIT } from './read-body.ts';

export interface ServeOptions {
  configFile: string;
  tls: TlsFiles;
  host: string;
  port: number;
  metricsPort: number;
  /** pullgate's own namespace, always excluded. */
  ownNamespace: string;
  /** A kubeconfig file; undefined means in-cluster credentials. */
  kubeconfig?: string;
  bodyLimit?: number;
  /** How long a namespace's pull secret is trusted without asking the API server again. */
  secretRecheckMs?: number;
  logger: Logger;
}

export interface RunningPullgate {
  port: number;
  metricsPort: number;
  /** Graceful stop: readiness fails, in-flight requests finish, idle connections close. */
  shutdown(): Promise<void>;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

// Longest a stop waits for in-flight admissions (their own deadline is the webhook's 10 s).
const DRAIN_TIMEOUT_MS = 15_000;

/** Stops accepting, lets in-flight requests finish, closes idle connections, then forces the rest. */
function close(server: HttpServer | HttpsServer): Promise<void> {
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

function kubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) {
    kc.loadFromFile(file);
    return kc;
  }
  kc.loadFromCluster();
  // Outside a cluster the service host is unset and the client would call https://undefined:undefined;
  // every Pod would then carry a warning. Refuse to start instead.
  if (kc.getCurrentCluster()?.server.includes('undefined')) {
    throw new Error('not running in a cluster: pass --kubeconfig FILE (or set KUBECONFIG) so pullgate can manage pull secrets');
  }
  return kc;
}

export async function startPullgate(options: ServeOptions): Promise<RunningPullgate> {
  const { logger } = options;
  const loaded = await loadConfig(options.configFile);
  const metrics = createMetrics();
  const keeper = new PullSecretKeeper(pullSecretSpec(loaded.settings, loaded.license), {
    api: kubeConfig(options.kubeconfig).makeApiClient(CoreV1Api),
    logger,
    ...(options.secretRecheckMs !== undefined ? { ttlMs: options.secretRecheckMs } : {}),
    onResult: (result) => metrics.pullSecretEnsures.inc({ result }),
  });
  const state = createAdmissionState(loaded, options.ownNamespace, keeper);
  const licenseWatch = followLicense(loaded.config.licenseFile, loaded.license, (license) => state.setLicense(license), logger);

  let ready = false;
  let draining = false;
  const server = createHttpsServer(
    readTlsFiles(options.tls),
    createMutateHandler({ admission: state.context, logger, metrics, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT }),
    createOpsApp({ ready: () => ready }, logger),
    logger,
    () => draining,
  );
  // After start, a server error (say EMFILE on accept) is logged, not left to crash the process.
  const logServerError = (err: Error) => logger.error({ err: err.message }, 'server error');
  const tlsWatch = reloadOnChange(server, options.tls, logger);
  const metricsServer = createMetricsServer(metrics);

  const port = await listen(server, options.port, options.host);
  const metricsPort = await listen(metricsServer, options.metricsPort, options.host);
  server.on('error', logServerError);
  metricsServer.on('error', logServerError);
  ready = true;
  const { settings, config } = loaded;
  for (const served of [config.namespaces.application, ...config.namespaces.additional]) {
    if (served === options.ownNamespace) logger.warn({ namespace: served }, "configured namespace is pullgate's own namespace, which is never served");
  }
  logger.info(
    {
      port,
      metricsPort,
      proxyDomain: settings.proxyDomain,
      registryDomain: settings.registryDomain,
      appSlug: settings.appSlug,
      pullSecret: settings.pullSecretName,
      privateRegistries: config.privateRegistries.length,
      licenseExpiresAt: loaded.license.expiresAt?.toISOString() ?? 'never',
    },
    'pullgate serving',
  );

  return {
    port,
    metricsPort,
    async shutdown() {
      ready = false;
      draining = true;
      licenseWatch.close();
      tlsWatch.close();
      await Promise.all([close(server), close(metricsServer)]);
      logger.info('pullgate stopped');
    },
  };
}
