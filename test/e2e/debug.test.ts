import { describe, expect, it } from 'vitest';
import { e2e, eventually, getJson, unavailable } from './support/env.ts';
import { APP_NAMESPACE, proxied } from './support/scenario.ts';

type Pod = { spec: { ephemeralContainers?: Array<{ name: string; image: string }>; containers: Array<{ image: string }> } };

describe.skipIf(unavailable)('kubectl debug (pods/ephemeralcontainers)', () => {
  it('rewrites the ephemeral container image of a private debug image', async () => {
    const { client } = e2e();
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug-me', namespace: APP_NAMESPACE }, spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    await client.kubectl(['debug', 'debug-me', '-n', APP_NAMESPACE, '--image=quay.io/acme/debug-tools:2', '--container=dbg', '--attach=false']);
    const pod = await eventually('the ephemeral container', async () => {
      const p = await getJson<Pod>(client, ['pod', 'debug-me', '-n', APP_NAMESPACE]);
      return p.spec.ephemeralContainers?.length ? p : undefined;
    });
    expect(pod.spec.ephemeralContainers).toEqual([expect.objectContaining({ name: 'dbg', image: proxied('quay.io/acme/debug-tools:2') })]);
  });

  it('warns when the Pod has no pull secret for the proxied debug image', async () => {
    const { client } = e2e();
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'public-only', namespace: APP_NAMESPACE }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    const out = await client.kubectl(['debug', 'public-only', '-n', APP_NAMESPACE, '--image=quay.io/acme/debug-tools:2', '--container=dbg', '--attach=false']);
    expect(out.stderr).toMatch(/Warning: pullgate: .*may fail to pull/);
    const pod = await getJson<Pod>(client, ['pod', 'public-only', '-n', APP_NAMESPACE]);
    expect(pod.spec.ephemeralContainers?.[0]?.image).toBe(proxied('quay.io/acme/debug-tools:2'));
  });
});
