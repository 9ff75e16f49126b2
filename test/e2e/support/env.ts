import { inject } from 'vitest';
import { clusterClient, type ClusterClient } from '../../cluster/client.ts';

const env = inject('e2e');

/** Why the e2e suite cannot run here (only outside CI); undefined when it can. */
export const unavailable = env.unavailable;

export function e2e(): { client: ClusterClient; env: typeof env } {
  if (!env.cluster) throw new Error(`no test cluster: ${env.unavailable ?? 'global setup did not run'}`);
  return { client: clusterClient(env.cluster), env };
}

/** `kubectl get -o json`, parsed. */
export async function getJson<T = any>(client: ClusterClient, args: string[]): Promise<T> {
  return JSON.parse((await client.kubectl(['get', ...args, '-o', 'json'])).stdout) as T;
}
