import { describe, expect, it } from 'vitest';
import { e2e, getJson, unavailable } from './support/env.ts';
import { OWN_NAMESPACE, proxied } from './support/scenario.ts';

const pod = (name: string, ns: string, labels: Record<string, string> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] } });

async function imageOf(ns: string, name: string): Promise<string> {
  const { client } = e2e();
  await client.kubectl(['apply', '-f', '-'], { input: pod(name, ns) });
  return (await getJson(client, ['pod', name, '-n', ns])).spec.containers[0].image;
}

describe.skipIf(unavailable)('namespace scope', () => {
  it('ignores a namespace outside the configured set until it carries the opt-in label', async () => {
    const { client } = e2e();
    await client.kubectl(['create', 'namespace', 'team-x']);
    expect(await imageOf('team-x', 'before')).toBe('quay.io/acme/app:1');
    expect((await client.kubectl(['get', 'secrets', '-n', 'team-x', '-o', 'name'])).stdout).not.toContain('my-app-registry');

    await client.kubectl(['label', 'namespace', 'team-x', 'pullgate.dev/inject=enabled']);
    expect(await imageOf('team-x', 'after')).toBe(proxied('quay.io/acme/app:1'));
    expect((await client.kubectl(['get', 'secret', 'my-app-registry', '-n', 'team-x', '-o', 'name'])).stdout.trim()).toBe('secret/my-app-registry');

    // Taking the label away takes the namespace out again.
    await client.kubectl(['label', 'namespace', 'team-x', 'pullgate.dev/inject-']);
    expect(await imageOf('team-x', 'removed')).toBe('quay.io/acme/app:1');
  });

  it('never mutates kube-system or its own namespace, even when they are labelled', async () => {
    const { client } = e2e();
    for (const ns of ['kube-system', OWN_NAMESPACE]) {
      await client.kubectl(['label', 'namespace', ns, 'pullgate.dev/inject=enabled', '--overwrite']);
      expect(await imageOf(ns, `never-${ns}`), ns).toBe('quay.io/acme/app:1');
    }
  });

  it('leaves a Pod that opts out with pullgate.dev/inject=disabled alone', async () => {
    const { client } = e2e();
    await client.kubectl(['apply', '-f', '-'], { input: pod('opted-out', 'my-app', { 'pullgate.dev/inject': 'disabled' }) });
    const stored = await getJson(client, ['pod', 'opted-out', '-n', 'my-app']);
    expect(stored.spec.containers[0].image).toBe('quay.io/acme/app:1');
    expect(stored.spec.imagePullSecrets).toBeUndefined();
  });
});
