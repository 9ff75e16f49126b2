import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { e2e, getJson, unavailable } from './support/env.ts';
import { APP_NAMESPACE, LICENSE_ID, PROXY, REGISTRY, SECRET_NAME, proxied } from './support/scenario.ts';

const manifest = (name: string) =>
  stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: APP_NAMESPACE, labels: { app: name } },
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

describe.skipIf(unavailable)('kubectl apply of a Pod', () => {
  it('rewrites private images, leaves public ones, appends the pull secret and records the originals', async () => {
    const { client } = e2e();
    await client.kubectl(['apply', '-f', '-'], { input: manifest('plain') });
    const pod = await getJson(client, ['pod', 'plain', '-n', APP_NAMESPACE]);

    expect(pod.spec.initContainers[0].image).toBe(proxied('quay.io/acme/migrate:3.1'));
    expect(pod.spec.containers.map((c: { image: string }) => c.image)).toEqual([proxied('docker.io/acme/web:1.0'), 'redis:7', 'quay.io/acmecorp/agent:2']);
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'customer-own' }, { name: SECRET_NAME }]);
    expect(JSON.parse(pod.metadata.annotations['pullgate.dev/original-images'])).toEqual({
      'initContainers/migrate': 'quay.io/acme/migrate:3.1',
      'containers/web': 'acme/web:1.0',
    });
  });

  it('created the pull secret in the namespace, in the contract format', async () => {
    const { client } = e2e();
    const secret = await getJson(client, ['secret', SECRET_NAME, '-n', APP_NAMESPACE]);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret.metadata.labels['app.kubernetes.io/managed-by']).toBe('pullgate');
    const auth = Buffer.from(`LICENSE_ID:${LICENSE_ID}`).toString('base64');
    expect(JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString())).toEqual({ auths: { [PROXY]: { auth }, [REGISTRY]: { auth } } });
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

  it('kubectl apply --dry-run=server returns the mutated Pod and creates nothing', async () => {
    const { client } = e2e();
    const ns = 'dry-run-only';
    await client.kubectl(['create', 'namespace', ns]);
    await client.kubectl(['label', 'namespace', ns, 'pullgate.dev/inject=enabled']);
    const out = await client.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: manifest('dry').replace(`namespace: ${APP_NAMESPACE}`, `namespace: ${ns}`) });
    const pod = JSON.parse(out.stdout);
    expect(pod.spec.containers[0].image).toBe(proxied('docker.io/acme/web:1.0'));
    expect(pod.spec.imagePullSecrets).toContainEqual({ name: SECRET_NAME });
    expect((await client.kubectl(['get', 'pod', 'dry', '-n', ns], { allowFailure: true })).code).not.toBe(0);
    // No side effects on dry-run: the pull secret was not created either.
    expect((await client.kubectl(['get', 'secret', SECRET_NAME, '-n', ns], { allowFailure: true })).stderr).toMatch(/NotFound/);
  });

  it('repairs a deleted or tampered pull secret when the next Pod arrives', async () => {
    const { client } = e2e();
    const ns = 'repair';
    await client.kubectl(['create', 'namespace', ns]);
    await client.kubectl(['label', 'namespace', ns, 'pullgate.dev/inject=enabled']);
    await client.kubectl(['apply', '-f', '-'], { input: manifest('first').replace(`namespace: ${APP_NAMESPACE}`, `namespace: ${ns}`) });
    const good = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    await client.kubectl(['patch', 'secret', SECRET_NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } })]);
    // The keeper trusts a namespace it checked for --secret-recheck-seconds (2 s here); wait that out.
    await new Promise((r) => setTimeout(r, 2_500));
    await client.kubectl(['apply', '-f', '-'], { input: manifest('second').replace(`namespace: ${APP_NAMESPACE}`, `namespace: ${ns}`) });
    const repaired = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    expect(repaired.data['.dockerconfigjson']).toBe(good.data['.dockerconfigjson']);
  });
});
