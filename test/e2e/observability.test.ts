import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { e2e, unavailable } from './support/env.ts';
import { sample, scrapeMetrics } from './support/metrics.ts';
import { LICENSE_ID } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const MUTATED_CREATES = 'pullgate_admission_requests_total{operation="CREATE",decision="mutated"}';
const SECRETS_CREATED = 'pullgate_pull_secret_ensure_total{result="created"}';

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
      const decisions = readFileSync(env.pullgate!.logPath, 'utf8')
        .split('\n')
        // The last line may still be being written: only whole lines parse.
        .filter((l) => l.includes('"admission decided"') && l.endsWith('}'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, any>];
          } catch {
            return [];
          }
        });
      return decisions.find((d) => d.namespace === ns && d.name === 'observed');
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
    // The secret is created before the admission response returns: counted exactly once, already.
    expect(sample(after, SECRETS_CREATED) - sample(before, SECRETS_CREATED)).toBe(1);
    for (const secret of [LICENSE_ID, auth]) expect(after).not.toContain(secret);
  });
});
