import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { e2e, unavailable } from './support/env.ts';
import { APP_NAMESPACE, LICENSE_ID } from './support/scenario.ts';

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe.skipIf(unavailable)('what pullgate tells its operators', () => {
  it('logs each admission with the request uid and never a credential; metrics count it', async () => {
    const { client, env } = e2e();
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'observed', namespace: APP_NAMESPACE }, spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:9' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    await new Promise((r) => setTimeout(r, 300));

    const log = readFileSync(env.pullgate!.logPath, 'utf8');
    const decisions = log.split('\n').filter((l) => l.includes('"admission decided"')).map((l) => JSON.parse(l));
    const observed = decisions.find((d) => d.name === 'observed' || JSON.stringify(d.rewrites ?? []).includes('quay.io/acme/app:9'));
    expect(observed).toMatchObject({ namespace: APP_NAMESPACE, decision: 'mutated', operation: 'CREATE' });
    expect(observed.reqId).toMatch(/^[0-9a-f-]{36}$/);

    const auth = Buffer.from(`LICENSE_ID:${LICENSE_ID}`).toString('base64');
    for (const secret of [LICENSE_ID, auth]) expect(log).not.toContain(secret);

    const metrics = await fetchText(`http://127.0.0.1:${env.pullgate!.metricsPort}/metrics`);
    expect(metrics).toMatch(/pullgate_admission_requests_total\{operation="CREATE",decision="mutated"\} [1-9]/);
    expect(metrics).toMatch(/pullgate_pull_secret_ensure_total\{result="created"\} [1-9]/);
    for (const secret of [LICENSE_ID, auth]) expect(metrics).not.toContain(secret);
  });
});
