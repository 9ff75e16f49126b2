// A Pod stored before pullgate served its namespace has private images and no pull secret, and
// neither can it get one (imagePullSecrets are fixed at creation). Updating it must not rewrite its
// images: the container would restart on an image it has no credential to pull.
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { logEntries, type LogEntry } from './support/pullgate-log.ts';
import { OPT_IN_LABEL, SECRET_NAME } from './support/scenario.ts';
import { waitForScope } from './support/scope.ts';

const ORIGINAL_IMAGES = 'pullgate.dev/original-images';

type StoredPod = {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { initContainers: Array<{ name: string; image: string }>; containers: Array<{ name: string; image: string }>; imagePullSecrets?: unknown };
};

const images = (pod: StoredPod) => ({ initContainers: pod.spec.initContainers.map((c) => c.image), containers: pod.spec.containers.map((c) => c.image) });

type Decision = LogEntry;

/** pullgate's first "admission decided" log entry for an update of Pod `name` in `ns` that `which` picks, once it is written. */
function decidedUpdate(logPath: string, ns: string, name: string, what: string, which: (d: Decision) => boolean): Promise<Decision> {
  return eventually(`pullgate's decision on ${what} of Pod ${ns}/${name}`, () => {
    const decisions = logEntries(logPath).filter((d) => d.msg === 'admission decided' && d.namespace === ns && d.name === name && d.operation === 'UPDATE');
    return decisions.find(which);
  }, { timeoutMs: 10_000, files: [logPath] });
}

describe.skipIf(unavailable)('a Pod created before pullgate served its namespace', () => {
  it('keeps its images when relabelled, and an image changed later is left as it is, with a warning', async () => {
    const { client, env } = e2e();
    const ns = 'before-pullgate';
    // Without the opt-in label: pullgate does not serve the namespace yet.
    await client.kubectl(['create', 'namespace', ns]);
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'legacy', namespace: ns, labels: { app: 'legacy' } },
      spec: {
        initContainers: [{ name: 'init', image: 'quay.io/acme/init:1' }],
        containers: [{ name: 'app', image: 'quay.io/acme/app:1' }, { name: 'side', image: 'nginx:1.27' }],
      },
    };
    await client.kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest) });
    const created = await getJson<StoredPod>(client, ['pod', 'legacy', '-n', ns]);
    const originals = { initContainers: ['quay.io/acme/init:1'], containers: ['quay.io/acme/app:1', 'nginx:1.27'] };
    expect(images(created), 'created while not served').toEqual(originals);

    await client.kubectl(['label', 'namespace', ns, OPT_IN_LABEL]);
    await waitForScope(ns, true);

    const relabel = await client.kubectl(['label', 'pod', 'legacy', '-n', ns, 'tier=front']);
    expect(relabel.stderr).not.toMatch(/warning/i);
    const relabelled = await getJson<StoredPod>(client, ['pod', 'legacy', '-n', ns]);
    expect(relabelled.metadata.labels).toMatchObject({ app: 'legacy', tier: 'front' });
    expect(images(relabelled)).toEqual(originals);
    expect(relabelled.metadata.annotations?.[ORIGINAL_IMAGES]).toBeUndefined();
    expect(relabelled.spec.imagePullSecrets).toBeUndefined();
    // pullgate did see the update (the webhook covers Pod UPDATE here) and chose to change nothing.
    expect(await decidedUpdate(env.pullgate!.logPath, ns, 'legacy', 'the relabel', () => true)).toMatchObject({ decision: 'unchanged' });

    // An image the update changes cannot be proxied either: the Pod has no pull secret.
    const setImage = await client.kubectl(['set', 'image', 'pod/legacy', '-n', ns, 'app=quay.io/acme/app:2']);
    expect(setImage.stderr).toMatch(new RegExp(`Warning: pullgate: containers/app: image "quay\\.io/acme/app:2" .*no pull secret "${SECRET_NAME}"`));
    const updated = await getJson<StoredPod>(client, ['pod', 'legacy', '-n', ns]);
    expect(images(updated)).toEqual({ ...originals, containers: ['quay.io/acme/app:2', 'nginx:1.27'] });
    expect(updated.metadata.annotations?.[ORIGINAL_IMAGES]).toBeUndefined();
    expect(updated.spec.imagePullSecrets).toBeUndefined();
    const decided = await decidedUpdate(env.pullgate!.logPath, ns, 'legacy', 'the image change', (d) => JSON.stringify(d.warnings ?? []).includes('quay.io/acme/app:2'));
    expect(decided).toMatchObject({ decision: 'unchanged' });
  });
});
