import { describe, expect, it } from 'vitest';
import { e2e, getJson, unavailable } from './support/env.ts';
import { OPT_IN_LABEL, OWN_NAMESPACE, SECRET_NAME, proxied } from './support/scenario.ts';
import { probeMutated, waitForScope } from './support/scope.ts';

const OPT_IN_KEY = OPT_IN_LABEL.split('=')[0]!;

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
    expect((await client.kubectl(['get', 'secrets', '-n', 'team-x', '-o', 'name'])).stdout).not.toContain(SECRET_NAME);

    await client.kubectl(['label', 'namespace', 'team-x', OPT_IN_LABEL]);
    // The selector sees the label once the API server's namespace cache has it.
    await waitForScope('team-x', true);
    expect(await imageOf('team-x', 'after')).toBe(proxied('quay.io/acme/app:1'));
    expect((await client.kubectl(['get', 'secret', SECRET_NAME, '-n', 'team-x', '-o', 'name'])).stdout.trim()).toBe(`secret/${SECRET_NAME}`);

    // Taking the label away takes the namespace out again.
    await client.kubectl(['label', 'namespace', 'team-x', `${OPT_IN_KEY}-`]);
    await waitForScope('team-x', false);
    expect(await imageOf('team-x', 'removed')).toBe('quay.io/acme/app:1');
  });

  it('never mutates kube-system or its own namespace, even when they are labelled', async () => {
    const { client } = e2e();
    // A sentinel namespace labelled right after them: the API server's namespace cache is fed by
    // one watch, in order, so once the sentinel's label is in effect theirs are visible too, and
    // an unmutated Pod there is the exclusion in pullgate's webhook configuration at work (the API
    // server does not call pullgate at all), not a cache that lags behind. pullgate's own in-process
    // exclusion, its second line, is covered by test/unit/admission/admit.test.ts.
    const sentinel = 'scope-sentinel';
    await client.kubectl(['create', 'namespace', sentinel]);
    expect(await probeMutated(sentinel)).toBe(false);
    const excluded = ['kube-system', OWN_NAMESPACE];
    try {
      for (const ns of excluded) await client.kubectl(['label', 'namespace', ns, OPT_IN_LABEL, '--overwrite']);
      await client.kubectl(['label', 'namespace', sentinel, OPT_IN_LABEL]);
      await waitForScope(sentinel, true);
      for (const ns of excluded) {
        expect(await probeMutated(ns), ns).toBe(false);
        expect(await imageOf(ns, `never-${ns}`), ns).toBe('quay.io/acme/app:1');
        expect((await client.kubectl(['get', 'secret', SECRET_NAME, '-n', ns], { allowFailure: true })).stderr, ns).toMatch(/NotFound/);
      }
    } finally {
      for (const ns of excluded) await client.kubectl(['label', 'namespace', ns, `${OPT_IN_KEY}-`]);
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
