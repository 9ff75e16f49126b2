// Removing the chart's install guard, against the stub API server: only once the replica serves,
// by name and by DELETE alone, through the call budget; a 404 is done; a failure is retried with
// backoff and logged once; a guard created anew is deleted again. And the signal the removal
// waits for with self-managed TLS: the webhook configuration holding this replica's CA.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiCallBudget } from '../../../src/k8s/api-call-budget.ts';
import { installGuard, type InstallGuard } from '../../../src/k8s/install-guard.ts';
import { caBundleKeeper, type CaBundleKeeper } from '../../../src/k8s/webhook-ca-bundle.ts';
import { eventually } from '../../support/eventually.ts';
import { kubeStatus, type KubeObject } from '../helpers/kube-stub.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { startStubClient, type StubClient } from '../helpers/stub-client.ts';

const GUARD = 'acme-pullgate-install';
const MAIN = 'acme-pullgate';
const PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

const configuration = (name: string, caBundle?: string): KubeObject => ({
  metadata: { name },
  webhooks: ['pods.pullgate.dev', 'opt-in.pods.pullgate.dev'].map((hook) => ({
    name: hook,
    clientConfig: { service: { namespace: 'acme-system', name: MAIN, path: '/mutate', port: 443 }, ...(caBundle ? { caBundle } : {}) },
    admissionReviewVersions: ['v1'],
    sideEffects: 'NoneOnDryRun',
    failurePolicy: 'Fail',
  })),
});

const messages = (logs: CapturedLogs) => logs.records().map((r) => r['msg']);

describe('installGuard', () => {
  let client: StubClient;
  let logs: CapturedLogs;
  const running: InstallGuard[] = [];
  beforeEach(async () => {
    client = await startStubClient();
    logs = captureLogs();
    client.stub.webhookConfigurations.set(GUARD, configuration(GUARD));
    client.stub.webhookConfigurations.set(MAIN, configuration(MAIN));
  });
  afterEach(async () => {
    for (const guard of running.splice(0)) guard.stop();
    await client.close();
  });

  const start = (serving: () => boolean, more: { budget?: ApiCallBudget; recheckMs?: number } = {}) => {
    const guard = installGuard({
      kubeConfig: client.kubeConfig,
      budget: more.budget ?? new ApiCallBudget({ maxInFlight: 4, deadlineMs: 2_000 }),
      name: GUARD,
      serving,
      logger: logs.logger,
      checkMs: 20,
      retryMs: { first: 20, max: 80 },
      recheckMs: more.recheckMs ?? 60_000,
    });
    running.push(guard);
    guard.start();
    return guard;
  };

  it('deletes it, and only it, by name, once the replica serves; another replica finds it gone', async () => {
    let serving = false;
    let checks = 0;
    start(() => {
      checks++;
      return serving;
    });
    await eventually('serving checked a few times', () => checks >= 5);
    expect(client.stub.calls).toEqual([]);
    expect(client.stub.webhookConfigurations.has(GUARD)).toBe(true);

    serving = true;
    await eventually('the guard deleted', () => !client.stub.webhookConfigurations.has(GUARD));
    expect(client.stub.webhookConfigurations.has(MAIN)).toBe(true);
    expect(client.stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual([`DELETE ${PATH}/${GUARD}`]);
    expect(messages(logs)).toEqual(['install guard deleted: pullgate serves, Pods that need it reach it now']);

    // Another replica: a 404, which is done.
    const other = captureLogs();
    running.push(installGuard({ kubeConfig: client.kubeConfig, budget: new ApiCallBudget({ maxInFlight: 4, deadlineMs: 2_000 }), name: GUARD, serving: () => true, logger: other.logger }));
    running.at(-1)!.start();
    await eventually('the second replica done', () => other.records().length > 0);
    expect(messages(other)).toEqual(['install guard already gone']);
    expect(client.stub.calls.map((c) => c.method)).toEqual(['DELETE', 'DELETE']);
  });

  it('retries a failed delete with backoff, logging the failure once, and one that hangs is cut at the budget deadline', async () => {
    let failures = 0;
    client.stub.intercept = (call) => {
      if (call.method !== 'DELETE') return undefined;
      failures++;
      if (failures === 1) return 'hang';
      if (failures <= 4) return { status: 500, body: kubeStatus(500, 'InternalError', 'etcd leader changed') };
      return undefined;
    };
    const budget = new ApiCallBudget({ maxInFlight: 4, deadlineMs: 200 });
    const times: number[] = [];
    const intercept = client.stub.intercept;
    client.stub.intercept = (call) => {
      if (call.method === 'DELETE') times.push(Date.now());
      return intercept(call);
    };
    start(() => true, { budget });
    await eventually('the guard deleted', () => !client.stub.webhookConfigurations.has(GUARD), 10_000);
    expect(failures).toBe(5);
    // The hung call is aborted at the budget's deadline (200 ms): its connection closed by the client.
    await client.stub.hung[0]!.closed;
    // Then the waits after each failure grow: 20 (after the deadline), 40, 80, 80 ms. Times are taken as
    // the stub receives each call, so each gap may fall short of the wait by the difference in latency.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps).toHaveLength(4);
    [200, 40, 80, 80].forEach((least, i) => expect(gaps[i]).toBeGreaterThanOrEqual(least * 0.75));
    expect(budget.inFlight).toBe(0);
    const records = logs.records();
    expect(records.filter((r) => r['msg'] === 'cannot delete the install guard; Pods that need pullgate are refused until it is gone; retrying')).toHaveLength(1);
    expect(records.at(-1)!['msg']).toBe('install guard deleted: pullgate serves, Pods that need it reach it now');
    // Never anything but the DELETE of that name.
    expect(new Set(client.stub.calls.map((c) => `${c.method} ${c.path}`))).toEqual(new Set([`DELETE ${PATH}/${GUARD}`]));
  });

  it('deletes it again when something creates it anew while the replica serves', async () => {
    start(() => true, { recheckMs: 50 });
    await eventually('the guard deleted', () => !client.stub.webhookConfigurations.has(GUARD));
    client.stub.webhookConfigurations.set(GUARD, configuration(GUARD));
    await eventually('the guard deleted again', () => !client.stub.webhookConfigurations.has(GUARD));
    expect(messages(logs).filter((m) => m === 'install guard deleted: pullgate serves, Pods that need it reach it now')).toHaveLength(2);
  });
});

describe('caBundleKeeper.holdsCa', () => {
  let client: StubClient;
  let keeper: CaBundleKeeper | undefined;
  beforeEach(async () => {
    client = await startStubClient();
  });
  afterEach(async () => {
    await keeper?.stop();
    await client.close();
  });

  it('is true only once the configuration holds the CA, written or found; false again when something resets it, until put back', async () => {
    const logs = captureLogs();
    keeper = caBundleKeeper({ kubeConfig: client.kubeConfig, budget: new ApiCallBudget({ maxInFlight: 4, deadlineMs: 2_000 }), name: MAIN, logger: logs.logger });
    keeper.start();
    keeper.setCa('CA ONE');
    const one = Buffer.from('CA ONE').toString('base64');
    // No configuration yet (Helm creates it after the Deployment): not held.
    await eventually('the keeper synced and looked', () => logs.records().some((r) => r['msg'] === 'webhook configuration not found; its caBundle is set once it exists'));
    expect(keeper.holdsCa()).toBe(false);

    client.stub.webhookConfigurations.set(MAIN, configuration(MAIN));
    await eventually('the CA held', () => keeper!.holdsCa());
    const bundles = () => ((client.stub.webhookConfigurations.get(MAIN) as { webhooks: Array<{ clientConfig: { caBundle?: string } }> }).webhooks.map((w) => w.clientConfig.caBundle));
    expect(bundles()).toEqual([one, one]);

    // A reset (say a GitOps sync of the chart's rendering, without caBundle) is seen, and repaired.
    let sawReset = false;
    client.stub.intercept = (call) => {
      if (call.method === 'PUT') sawReset ||= !keeper!.holdsCa();
      return undefined;
    };
    client.stub.webhookConfigurations.set(MAIN, configuration(MAIN));
    await eventually('the CA put back', () => bundles().every((b) => b === one) && keeper!.holdsCa());
    expect(sawReset).toBe(true);

    // Another CA: not held until written.
    keeper.setCa('CA TWO');
    expect(keeper.holdsCa()).toBe(false);
    await eventually('the new CA held', () => keeper!.holdsCa());
    expect(bundles()).toEqual([Buffer.from('CA TWO').toString('base64'), Buffer.from('CA TWO').toString('base64')]);
  });
});
