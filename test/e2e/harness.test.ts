import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { groupAlive } from '../cluster/supervised-process.ts';
import { eventually } from '../support/eventually.ts';
import { startHangProxy } from '../support/hang-proxy.ts';
import { run } from '../support/run.ts';
import { postReview } from '../support/http.ts';
import { pod, review } from '../support/reviews.ts';
import { e2e, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { proxied, SECRET_NAME } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const CLUSTER = fileURLToPath(new URL('../cluster/cluster.ts', import.meta.url));
const VERSIONS = fileURLToPath(new URL('../cluster/versions.env', import.meta.url));

describe.skipIf(unavailable)('the test control plane', () => {
  it('reports the pinned release, as Helm needs', async () => {
    const { client } = e2e();
    const pinned = /^K8S_VERSION=(\S+)$/m.exec(readFileSync(VERSIONS, 'utf8'))![1];
    const version = JSON.parse((await client.kubectl(['version', '-o', 'json'])).stdout);
    expect(version.serverVersion.gitVersion).toBe(pinned);
    expect(version.clientVersion.gitVersion).toBe(pinned);
    expect((await client.helm(['version', '--short'])).stdout).toMatch(/^v3\.\d+\.\d+/);
  });

  it('leaves no process and no directory behind when the process that started it is killed', async () => {
    // A separate Node process starts a cluster, prints what it started, then waits to be killed.
    const script = `
      import { startCluster } from ${JSON.stringify(CLUSTER)};
      const cluster = await startCluster({ log: () => {} });
      console.log(JSON.stringify({ dir: cluster.dir, pids: cluster.processes.map((p) => p.pid) }));
      setInterval(() => {}, 1000);`;
    const child = run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: Infinity, onStderr: (c) => process.stderr.write(c) });
    try {
      const started = await eventually('the second cluster', () => (child.stdout().includes('\n') ? (JSON.parse(child.stdout()) as { dir: string; pids: number[] }) : undefined), 120_000);
      expect(started.pids.length).toBe(3);
      expect(started.pids.every(groupAlive)).toBe(true);

      child.child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
      await eventually('every server process gone', () => !started.pids.some(groupAlive), 15_000);
      await eventually('the temp dir removed', () => !existsSync(started.dir), 15_000);
    } finally {
      // A failed run must not leave the second cluster's Node process behind.
      if (!child.hasExited()) child.child.kill('SIGKILL');
    }
  }, 180_000);

  it('puts a hang proxy in front of the API server, and a second pullgate behind it', async () => {
    const { client, env } = e2e();
    const api = new URL(env.cluster!.server);
    const proxy = await startHangProxy({ host: api.hostname, port: Number(api.port) });
    const viaProxy = `https://127.0.0.1:${proxy.port}`;
    const getDefault = (extra: string[] = []) =>
      client.kubectl([`--server=${viaProxy}`, ...extra, 'get', 'namespace', 'default', '-o', 'name'], { allowFailure: true, timeoutMs: 60_000 });
    let extra: PullgateInstance | undefined;
    try {
      // TLS passes through: kubectl verifies the API server's certificate (SAN 127.0.0.1) via the proxy.
      expect((await getDefault()).stdout.trim()).toBe('namespace/default');

      extra = await startPullgateInCluster(env.cluster!, client, { name: 'behind-proxy', apiServerUrl: viaProxy, licensePath: env.pullgate!.licensePath });
      expect(extra.port).not.toBe(env.pullgate!.port);
      // No Pod of this namespace goes through the API server: only the second pullgate, called
      // directly, sees one, so the pull secret it needs can only come from it, through the proxy.
      const ns = await createServedNamespace('behind-proxy');
      const answer = await postReview(extra.port, extra.ca, review(pod('direct', [{ name: 'app', image: 'quay.io/acme/app:1' }], { namespace: ns }), { namespace: ns }));
      expect(answer.status).toBe(200);
      const patch = Buffer.from(answer.json().response.patch as string, 'base64').toString('utf8');
      expect(patch).toContain(proxied('quay.io/acme/app:1'));
      expect((await client.kubectl(['get', 'secret', SECRET_NAME, '-n', ns, '-o', 'name'])).stdout.trim()).toBe(`secret/${SECRET_NAME}`);
      expect(proxy.connections()).toBeGreaterThan(0);

      proxy.hang();
      const hung = await getDefault(['--request-timeout=2s']);
      expect(hung.code).not.toBe(0);
      expect(hung.stderr).toMatch(/timeout|deadline|Client\.Timeout/i);
      proxy.resume();
      expect((await getDefault()).stdout.trim()).toBe('namespace/default');
    } finally {
      await extra?.stop();
      await proxy.close();
    }
  });
});
