import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { e2e, getJson, unavailable } from './support/env.ts';
import { APP_NAMESPACE, LICENSE_ID, OPT_IN_LABEL, PROXY, REGISTRY, SECRET_NAME, proxied } from './support/scenario.ts';
import { createServedNamespace, waitForScope } from './support/scope.ts';

const [OPT_IN_KEY, OPT_IN_VALUE] = OPT_IN_LABEL.split('=') as [string, string];

const manifest = (name: string, namespace = APP_NAMESPACE) =>
  stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      imagePullSecrets: [{ name: 'customer-own' }],
      initContainers: [{ name: 'migrate', image: 'quay.io/acme/migrate:3.1' }],
      containers: [
        { name: 'web', image: 'acme/web:1.0' },
        { name: 'cache', image: 'redis:7' },
        { name: 'agent', image: 'quay.io/acmecorp/agent:2' },
      ],
    },
  });

const auth = Buffer.from(`LICENSE_ID:${LICENSE_ID}`).toString('base64');

describe.skipIf(unavailable)('kubectl apply of a Pod', () => {
  // The Pod the first and third tests look at, created here so each test can run on its own.
  beforeAll(async () => {
    if (unavailable) return;
    await e2e().client.kubectl(['apply', '-f', '-'], { input: manifest('plain') });
  });

  it('rewrites private images, leaves public ones, appends the pull secret and records the originals', async () => {
    const { client } = e2e();
    const pod = await getJson(client, ['pod', 'plain', '-n', APP_NAMESPACE]);

    expect(pod.spec.initContainers[0].image).toBe(proxied('quay.io/acme/migrate:3.1'));
    expect(pod.spec.containers.map((c: { image: string }) => c.image)).toEqual([proxied('docker.io/acme/web:1.0'), 'redis:7', 'quay.io/acmecorp/agent:2']);
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'customer-own' }, { name: SECRET_NAME }]);
    expect(JSON.parse(pod.metadata.annotations['pullgate.dev/original-images'])).toEqual({
      'initContainers/migrate': 'quay.io/acme/migrate:3.1',
      'containers/web': 'acme/web:1.0',
    });
  });

  it('has the pull secret in the namespace, in the contract format, before the Pod is admitted', async () => {
    const { client } = e2e();
    // The namespace and the Pod in one apply: the Pod arrives while the namespace is brand new,
    // whether or not the reconciler has got to it yet.
    const ns = `pod-apply-secret-${Date.now().toString(36)}`;
    const namespace = stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [OPT_IN_KEY]: OPT_IN_VALUE } } });
    await client.kubectl(['apply', '-f', '-'], { input: `${namespace}---\n${manifest('needs-secret', ns)}` });
    // No wait: the secret exists by the time the admission response (and so kubectl) returns.
    const secret = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'pullgate' });
    expect(Object.keys(secret.data)).toEqual(['.dockerconfigjson']);
    expect(JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString())).toEqual({ auths: { [PROXY]: { auth }, [REGISTRY]: { auth } } });
    expect((await getJson(client, ['pod', 'needs-secret', '-n', ns])).spec.imagePullSecrets).toEqual([{ name: 'customer-own' }, { name: SECRET_NAME }]);
  });

  it('is a fixed point through the API server: the stored Pod, applied again or as a new Pod, changes nothing', async () => {
    const { client } = e2e();
    const stored = await getJson(client, ['pod', 'plain', '-n', APP_NAMESPACE]);
    const reapplied = await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(stored) });
    expect(reapplied.stderr).not.toMatch(/warning/i);
    const after = await getJson(client, ['pod', 'plain', '-n', APP_NAMESPACE]);
    expect(after.spec).toEqual(stored.spec);
    expect(after.metadata.annotations['pullgate.dev/original-images']).toBe(stored.metadata.annotations['pullgate.dev/original-images']);

    // The mutated manifest submitted as a brand-new Pod comes out exactly as it went in.
    const copy = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'copy', namespace: APP_NAMESPACE, annotations: stored.metadata.annotations }, spec: { ...stored.spec, nodeName: undefined } };
    const created = JSON.parse((await client.kubectl(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(copy) })).stdout);
    expect(created.spec.containers.map((c: { image: string }) => c.image)).toEqual(stored.spec.containers.map((c: { image: string }) => c.image));
    expect(created.spec.imagePullSecrets).toEqual(stored.spec.imagePullSecrets);
    expect(created.metadata.annotations['pullgate.dev/original-images']).toBe(stored.metadata.annotations['pullgate.dev/original-images']);
  });

  it('rewrites an image changed by a later apply (Pod UPDATE)', async () => {
    const { client } = e2e();
    await client.kubectl(['apply', '-f', '-'], { input: manifest('updated') });
    const next = manifest('updated').replace('acme/web:1.0', 'acme/web:1.1');
    await client.kubectl(['apply', '-f', '-'], { input: next });
    const pod = await getJson(client, ['pod', 'updated', '-n', APP_NAMESPACE]);
    expect(pod.spec.containers[0].image).toBe(proxied('docker.io/acme/web:1.1'));
    expect(JSON.parse(pod.metadata.annotations['pullgate.dev/original-images'])['containers/web']).toBe('acme/web:1.1');
  });

  it('kubectl apply --dry-run=server returns the mutated Pod and stores nothing', async () => {
    const { client } = e2e();
    const ns = await createServedNamespace('dry-run-only');
    const out = await client.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: manifest('dry', ns) });
    const pod = JSON.parse(out.stdout);
    expect(pod.spec.containers[0].image).toBe(proxied('docker.io/acme/web:1.0'));
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'customer-own' }, { name: SECRET_NAME }]);
    expect((await client.kubectl(['get', 'pod', 'dry', '-n', ns], { allowFailure: true })).stderr).toMatch(/NotFound/);
    // That a dry run makes no request for the pull secret: test/e2e/reconciler.test.ts.
  });

  it('admits the Pod with a warning when an unmanaged secret holds the pull secret name, and leaves that secret alone', async () => {
    const { client } = e2e();
    // Their secret first, then the opt-in label: the reconciler never saw the namespace without it.
    const ns = `unmanaged-secret-${Date.now().toString(36)}`;
    await client.kubectl(['create', 'namespace', ns]);
    const theirs = { apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET_NAME, namespace: ns, labels: { team: 'payments' } }, type: 'Opaque', data: { token: Buffer.from('customer-owned').toString('base64') } };
    const created = JSON.parse((await client.kubectl(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(theirs) })).stdout);
    await client.kubectl(['label', 'namespace', ns, OPT_IN_LABEL]);
    await waitForScope(ns, true);

    const out = await client.kubectl(['apply', '-f', '-'], { input: manifest('beside-unmanaged', ns), allowFailure: true });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/Warning: pullgate: could not ensure pull secret "my-app-registry"/);
    expect(out.stderr).not.toContain(LICENSE_ID);
    const pod = await getJson(client, ['pod', 'beside-unmanaged', '-n', ns]);
    expect(pod.spec.containers[0].image).toBe(proxied('docker.io/acme/web:1.0'));
    expect(pod.spec.initContainers[0].image).toBe(proxied('quay.io/acme/migrate:3.1'));

    const after = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    expect(after.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(after.metadata.uid).toBe(created.metadata.uid);
    expect(after.type).toBe('Opaque');
    expect(after.metadata.labels).toEqual({ team: 'payments' });
    expect(after.data).toEqual(theirs.data);
  });
});
