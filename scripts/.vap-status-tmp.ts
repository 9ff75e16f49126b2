import { startCluster } from '/work/main/test/cluster/cluster.ts';
const c = await startCluster();
try {
  await c.kubectl(['create', 'namespace', 'pullgate']);
  await c.kubectl(['apply', '-f', '/work/main/deploy/rbac.yaml', '-f', '/work/main/deploy/write-guard.yaml']);
  for (let i = 0; i < 20; i++) {
    const out = await c.kubectl(['get', 'validatingadmissionpolicy', 'pullgate-write-guard', '-o', 'json']);
    const p = JSON.parse(out.stdout);
    console.log(i, p.metadata.generation, JSON.stringify(p.status));
    if (p.status) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  await c.stop();
}
