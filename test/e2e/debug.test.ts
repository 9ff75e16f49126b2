import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { APP_NAMESPACE, OPT_IN_LABEL, proxied } from './support/scenario.ts';
import { waitForScope } from './support/scope.ts';

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

describe.skipIf(unavailable)('the pods/ephemeralcontainers subresource', () => {
  // Why pullgate patches nothing but ephemeral container images on this subresource: the API
  // server silently drops every other change made through it.
  it('keeps only ephemeral container changes and drops the rest', async () => {
    const { client } = e2e();
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'subresource', namespace: APP_NAMESPACE, labels: { a: 'b' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    const patch = {
      metadata: { labels: { a: 'changed' }, annotations: { added: 'yes' } },
      spec: { imagePullSecrets: [{ name: 'x' }], ephemeralContainers: [{ name: 'dbg', image: 'busybox:1.36', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }] },
    };
    const out = await client.kubectl(['patch', 'pod', 'subresource', '-n', APP_NAMESPACE, '--subresource=ephemeralcontainers', '--type=strategic', '-p', JSON.stringify(patch)], { allowFailure: true });
    expect(out.code, out.stderr).toBe(0);
    const pod = await getJson(client, ['pod', 'subresource', '-n', APP_NAMESPACE]);
    expect(pod.spec.ephemeralContainers.map((c: { name: string }) => c.name)).toEqual(['dbg']);
    expect(pod.metadata.labels).toEqual({ a: 'b' });
    expect(pod.metadata.annotations?.added).toBeUndefined();
    expect(pod.spec.imagePullSecrets).toBeUndefined();
  });
});

describe.skipIf(unavailable)('kubectl debug on a Pod whose earlier debug container was not rewritten', () => {
  it('adds and rewrites the new debug container without touching the old one', async () => {
    const { client } = e2e();
    const ns = 'debug-late-opt-in';
    await client.kubectl(['create', 'namespace', ns]);
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'late', namespace: ns }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    // Not served yet: the first debug container keeps its private image.
    await client.kubectl(['debug', 'late', '-n', ns, '--image=quay.io/acme/debug-tools:1', '--container=first', '--attach=false']);
    await client.kubectl(['label', 'namespace', ns, OPT_IN_LABEL]);
    // The API server matches the label against its namespace cache: wait until it is in effect.
    await waitForScope(ns, true);
    await client.kubectl(['debug', 'late', '-n', ns, '--image=quay.io/acme/debug-tools:2', '--container=second', '--attach=false']);
    const pod = await getJson<Pod>(client, ['pod', 'late', '-n', ns]);
    expect(pod.spec.ephemeralContainers?.map((c) => [c.name, c.image])).toEqual([
      ['first', 'quay.io/acme/debug-tools:1'],
      ['second', proxied('quay.io/acme/debug-tools:2')],
    ]);
  });
});
