import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { e2e, unavailable } from './support/env.ts';
import { logEntries } from './support/pullgate-log.ts';
import { sample, scrapeMetrics } from './support/metrics.ts';
import { LICENSE_ID } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const MUTATED_CREATES = 'pullgate_admission_requests_total{operation="CREATE",decision="mutated"}';
const SECRETS_CREATED = 'pullgate_pull_secret_ensure_total{result="created"}';
const SECRETS_PRESENT = 'pullgate_pull_secret_ensure_total{result="unchanged"}';

describe.skipIf(unavailable)('what pullgate tells its operators', () => {
  it('logs each admission with the request uid and never a credential; metrics count it', async () => {
    const { client, env } = e2e();
    const scrape = () => scrapeMetrics(env.pullgate!.metricsPort);
    // A namespace of its own: the Pod below is the first (and only) one to need its pull secret.
    const ns = await createServedNamespace('observed');
    const before = await scrape();

    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'observed', namespace: ns }, spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:9' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });

    const observed = await eventually('the admission of Pod observed in the log', async () => {
      return logEntries(env.pullgate!.logPath).find((d) => d.msg === 'admission decided' && d.namespace === ns && d.name === 'observed');
    }, 10_000);
    expect(observed).toMatchObject({ namespace: ns, decision: 'mutated', operation: 'CREATE' });
    expect(observed.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(observed.rewrites).toEqual([{ at: 'containers/app', from: 'quay.io/acme/app:9', to: 'proxy.example.com/proxy/my-app/quay.io/acme/app:9' }]);

    const log = readFileSync(env.pullgate!.logPath, 'utf8');
    const auth = Buffer.from(`LICENSE_ID:${LICENSE_ID}`).toString('base64');
    for (const secret of [LICENSE_ID, auth]) expect(log).not.toContain(secret);

    const after = await eventually('the admission counted', async () => {
      const text = await scrape();
      return sample(text, MUTATED_CREATES) > sample(before, MUTATED_CREATES) ? text : undefined;
    }, 10_000);
    // The pull secret was checked before the admission response returned, exactly once: found in
    // place (the reconciler may have created it as the namespace appeared) or created then.
    const checked = (text: string) => sample(text, SECRETS_CREATED) + sample(text, SECRETS_PRESENT);
    expect(checked(after) - checked(before)).toBe(1);
    for (const secret of [LICENSE_ID, auth]) expect(after).not.toContain(secret);
  });
});
