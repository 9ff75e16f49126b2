import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { groupAlive } from '../cluster/supervised-process.ts';
import { e2e, eventually, unavailable } from './support/env.ts';

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
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const started = await eventually('the second cluster', async () => (out.includes('\n') ? (JSON.parse(out) as { dir: string; pids: number[] }) : undefined), 120_000);
    expect(started.pids.length).toBe(3);
    expect(started.pids.every(groupAlive)).toBe(true);

    child.kill('SIGKILL');
    await eventually('every server process gone', async () => (started.pids.some(groupAlive) ? undefined : true), 15_000);
    await eventually('the temp dir removed', async () => (existsSync(started.dir) ? undefined : true), 15_000);
  }, 180_000);
});
