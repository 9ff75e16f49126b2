// Starts one real control plane and pullgate for the whole e2e project; tests reach both through
// inject('e2e'). Without Go (and no cached binaries) the suite is skipped with the reason, except
// under CI=true, where controlPlaneUnavailableReason() throws.
import type { TestProject } from 'vitest/node';
import { clusterClient, type ClusterInfo } from '../cluster/client.ts';
import { startCluster } from '../cluster/cluster.ts';
import { controlPlaneUnavailableReason } from '../cluster/ensure-binaries.ts';
import { startPullgateInCluster } from './support/pullgate-in-cluster.ts';

export interface E2EEnvironment {
  unavailable?: string;
  cluster?: ClusterInfo;
  /** The shared pullgate, started with its webhook registered. */
  pullgate?: { port: number; metricsPort: number; logPath: string; configPath: string; licensePath: string; ca: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2EEnvironment;
  }
}

export default async function setup(project: TestProject) {
  const unavailable = controlPlaneUnavailableReason();
  if (unavailable) {
    // The skipped tests alone would not say why: tell the person running them.
    console.warn(`e2e tests skipped: ${unavailable}`);
    project.provide('e2e', { unavailable });
    return;
  }
  // The audit log lets tests count the API requests pullgate makes (test/support/audit.ts).
  const cluster = await startCluster({ audit: true });
  try {
    const pullgate = await startPullgateInCluster(cluster.info, clusterClient(cluster.info));
    project.provide('e2e', {
      cluster: cluster.info,
      pullgate: {
        port: pullgate.port,
        metricsPort: pullgate.metricsPort,
        logPath: pullgate.logPath,
        configPath: pullgate.configPath,
        licensePath: pullgate.licensePath,
        ca: pullgate.ca,
      },
    });
    return async () => {
      await pullgate.stop();
      await cluster.stop();
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
