import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { SECRET_NAME, proxied } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const CHART = fileURLToPath(new URL('../fixtures/charts/acme-platform', import.meta.url));

function chartDigest(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path.slice(CHART.length)).update(readFileSync(path));
    }
  };
  walk(CHART);
  return hash.digest('hex');
}

type Pod = { metadata: { name: string; labels: Record<string, string> }; spec: { initContainers?: Array<{ image: string }>; containers: Array<{ image: string }>; imagePullSecrets?: Array<{ name: string }> } };

describe.skipIf(unavailable)('helm install of an unmodified chart', () => {
  it('mutates every Pod and creates the pull secret in the release namespace', async () => {
    const { client } = e2e();
    const ns = await createServedNamespace('acme-platform');
    const before = chartDigest();
    await client.helm(['install', 'acme', CHART, '--namespace', ns]);
    expect(chartDigest(), 'the chart on disk is untouched').toBe(before);

    const pods = await eventually('4 Pods of the release', async () => {
      const list = await getJson<{ items: Pod[] }>(client, ['pods', '-n', ns, '-l', 'app.kubernetes.io/instance=acme']);
      return list.items.length >= 4 ? list.items : undefined;
    }, 90_000);
    const byComponent = (c: string) => pods.filter((p) => p.metadata.labels['app.kubernetes.io/component'] === c);
    expect(byComponent('web')).toHaveLength(2);
    for (const pod of byComponent('web')) {
      expect(pod.spec.initContainers?.[0]?.image).toBe('busybox:1.36');
      expect(pod.spec.containers.map((c) => c.image)).toEqual([proxied('quay.io/acme/web:1.4.0'), 'prom/statsd-exporter:v0.26.0']);
    }
    expect(byComponent('worker')[0]!.spec.containers[0]!.image).toBe(proxied('docker.io/acme/worker:1.4.0'));
    expect(byComponent('migrate')[0]!.spec.containers[0]!.image).toBe(proxied('quay.io/acme/migrate:1.4.0'));
    for (const pod of pods) expect(pod.spec.imagePullSecrets, pod.metadata.name).toEqual([{ name: SECRET_NAME }]);

    const secret = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    // helm still sees its own manifest: the release is not "modified" by pullgate.
    const manifest = (await client.helm(['get', 'manifest', 'acme', '--namespace', ns])).stdout;
    expect(manifest).toContain('image: "quay.io/acme/web:1.4.0"');
    expect(manifest).not.toContain('proxy.example.com');
  }, 180_000);
});
