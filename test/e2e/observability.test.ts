import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { e2e, eventually, unavailable } from './support/env.ts';
import { LICENSE_ID } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The value of one counter sample in Prometheus text format; 0 when the series does not exist yet. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const MUTATED_CREATES = 'pullgate_admission_requests_total{operation="CREATE",decision="mutated"}';
const SECRETS_CREATED = 'pullgate_pull_secret_ensure_total{result="created"}';

describe.skipIf(unavailable)('what pullgate tells its operators', () => {
  it('logs each admission with the request uid and never a credential; metrics count it', async () => {
    const { client, env } = e2e();
    const scrape = () => fetchText(`http://127.0.0.1:${env.pullgate!.metricsPort}/metrics`);
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
