// Target 5 of `npm run bench`: what pullgate adds to Pod creation through the real API server. 300 Pods (two private
// images each) are created across 3 new namespaces, 32 requests at a time, once in namespaces the
// webhook selects (the opt-in label) and once in namespaces it does not (the API server calls no
// webhook for them), interleaved; the wall-time ratio and every request pullgate made to the API
// server during the bursts (from the API server's audit log) are reported.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { join } from 'node:path';
import { startCluster } from '../../test/cluster/index.ts';
import { auditMark, readAuditEvents } from '../../test/support/audit.ts';
import { eventually } from '../../test/support/eventually.ts';
import { run } from '../../test/support/run.ts';
import { startPullgateInCluster } from '../../test/e2e/support/pullgate-in-cluster.ts';
import { OPT_IN_LABEL, OWN_NAMESPACE } from '../../test/e2e/support/scenario.ts';

const PODS = 300;
const NAMESPACES = 3;
const CONCURRENCY = 32;
const ROUNDS = 2;
const PULLGATE_USER = `system:serviceaccount:${OWN_NAMESPACE}:pullgate`;

export interface PodBurstResult {
  ratio: number;
  /** Requests pullgate made to the API server during the bursts with the webhook, leader Lease aside. */
  requests: number;
  /** One secret create per namespace that lacked it. */
  allowedRequests: number;
}

export async function podBurst(options: { node: string; root: string; nodeOptions: string; line: (text: string) => void }): Promise<PodBurstResult> {
  const { line } = options;
  await run(options.node, [join(options.root, 'node_modules/typescript/bin/tsc'), '-p', join(options.root, 'tsconfig.build.json')], { cwd: options.root, check: true, timeoutMs: 300_000 });
  // The default controllers: Pods need their namespace's default ServiceAccount.
  const cluster = await startCluster({ audit: true, log: () => {} });
  try {
    const nodeArgs = options.nodeOptions.split(/\s+/).filter(Boolean);
    const pullgate = await startPullgateInCluster(cluster.info, cluster, { nodeArgs });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.info.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const [labelKey, labelValue] = OPT_IN_LABEL.split('=') as [string, string];

    const burst = async (prefix: string, served: boolean): Promise<{ ms: number; rewritten: number }> => {
      const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `${prefix}-${i + 1}`);
      for (const name of namespaces) await core.createNamespace({ body: { metadata: { name, labels: served ? { [labelKey]: labelValue } : {} } } });
      for (const name of namespaces) {
        await eventually(`the default ServiceAccount in ${name}`, () => core.readNamespacedServiceAccount({ namespace: name, name: 'default' }).then(() => true, () => false), { timeoutMs: 60_000 });
      }
      const pods = Array.from({ length: PODS }, (_, i) => ({ namespace: namespaces[i % NAMESPACES]!, name: `web-${i}` }));
      let next = 0;
      let rewritten = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < pods.length) {
            const p = pods[next++]!;
            const created = await core.createNamespacedPod({
              namespace: p.namespace,
              body: { metadata: { name: p.name, labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'quay.io/acme/web:1.4.0' }, { name: 'sidecar', image: 'docker.io/acme/agent:2.1' }] } },
            });
            if (created.spec?.containers[0]?.image?.startsWith('proxy.example.com/')) rewritten++;
          }
        }),
      );
      return { ms: performance.now() - started, rewritten };
    };

    const mark = auditMark(cluster.info.auditLogPath!);
    const withHook: number[] = [];
    const without: number[] = [];
    let rewrittenWith = 0;
    let rewrittenWithout = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      const a = await burst(`plain-r${r}`, false);
      const b = await burst(`served-r${r}`, true);
      without.push(a.ms);
      withHook.push(b.ms);
      rewrittenWithout += a.rewritten;
      rewrittenWith += b.rewritten;
    }
    const all = readAuditEvents(cluster.info.auditLogPath!, { user: PULLGATE_USER, since: mark }).filter((e) => e.objectRef?.resource !== 'leases');
    // The watches' own traffic (a watch re-opened on its timeout, a relist) is not admission's.
    const watching = all.filter((e) => e.verb === 'watch' || e.verb === 'list');
    const events = all.filter((e) => !watching.includes(e));
    const byKind = new Map<string, number>();
    for (const e of events) {
      const key = `${e.verb} ${e.objectRef?.resource ?? e.requestURI}`;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const ratio = sum(withHook) / sum(without);
    line(`   no webhook ${without.map((ms) => Math.round(ms)).join(' ')} ms; pullgate ${withHook.map((ms) => Math.round(ms)).join(' ')} ms (${ROUNDS} interleaved rounds, ${CONCURRENCY} creates at a time); ratio ${ratio.toFixed(2)}`);
    line(`   Pods rewritten: ${rewrittenWith} of ${PODS * ROUNDS} with pullgate, ${rewrittenWithout} without`);
    line(`   requests pullgate made to the API server during the bursts (audit log, leader Lease aside): ${events.length}${events.length ? ` (${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}; namespaces that lacked the secret: ${NAMESPACES * ROUNDS}; watch re-opens meanwhile: ${watching.length}`);
    await pullgate.stop();
    if (rewrittenWith !== PODS * ROUNDS || rewrittenWithout !== 0) throw new Error('the webhook did not see exactly the served namespaces');
    return { ratio, requests: events.length, allowedRequests: NAMESPACES * ROUNDS };
  } finally {
    await cluster.stop();
  }
}
