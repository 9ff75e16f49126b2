// `npm run demo`: a real control plane on this machine, pullgate in front of it, and a vendor's
// application installed twice, with kubectl and with helm. Prints each Pod's images before and
// after admission and the pull Secret pullgate created. Nothing is left running afterwards.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clusterClient, type ClusterClient } from '../test/cluster/client.ts';
import { startCluster } from '../test/cluster/cluster.ts';
import { GoToolchainMissingError } from '../test/cluster/ensure-binaries.ts';
import { startPullgateInCluster } from '../test/e2e/support/pullgate-in-cluster.ts';
import { ADDITIONAL_NAMESPACE, APP_NAMESPACE, SECRET_NAME } from '../test/e2e/support/scenario.ts';
import { eventually } from '../test/support/eventually.ts';

const fixture = (path: string) => fileURLToPath(new URL(`../test/fixtures/${path}`, import.meta.url));
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

type Pod = {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { initContainers?: Array<{ name: string; image: string }>; containers: Array<{ name: string; image: string }>; imagePullSecrets?: Array<{ name: string }> };
};

function waitForPods(client: ClusterClient, ns: string, count: number): Promise<Pod[]> {
  return eventually(`${count} Pods in ${ns}`, async () => {
    const pods = JSON.parse((await client.kubectl(['get', 'pods', '-n', ns, '-o', 'json'])).stdout).items as Pod[];
    return pods.length >= count ? pods.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)) : undefined;
  });
}

function printPods(pods: Pod[]): void {
  for (const pod of pods) {
    const originals = JSON.parse(pod.metadata.annotations?.['pullgate.dev/original-images'] ?? '{}') as Record<string, string>;
    console.log(`  Pod ${bold(pod.metadata.name)}   imagePullSecrets: ${(pod.spec.imagePullSecrets ?? []).map((s) => s.name).join(', ') || '-'}`);
    for (const [location, list] of [['initContainers', pod.spec.initContainers ?? []], ['containers', pod.spec.containers]] as const) {
      for (const c of list) {
        const before = originals[`${location}/${c.name}`];
        console.log(before ? `    ${c.name.padEnd(12)} ${before}\n    ${''.padEnd(12)} -> ${bold(c.image)}` : `    ${c.name.padEnd(12)} ${c.image} ${dim('(public, unchanged)')}`);
      }
    }
  }
}

async function printSecret(client: ClusterClient, ns: string): Promise<void> {
  const secret = JSON.parse((await client.kubectl(['get', 'secret', SECRET_NAME, '-n', ns, '-o', 'json'])).stdout);
  const config = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString()) as { auths: Record<string, unknown> };
  console.log(`  Secret ${bold(`${ns}/${SECRET_NAME}`)}  type ${secret.type}, labels ${JSON.stringify(secret.metadata.labels)}`);
  console.log(`    .dockerconfigjson auths for: ${Object.keys(config.auths).join(', ')} ${dim('(credential not shown)')}`);
}

const cluster = await startCluster().catch((err: Error) => {
  // A cold machine builds the control plane first (progress above); without Go it cannot.
  if (err instanceof GoToolchainMissingError) {
    console.error(`\n${err.message}`);
    process.exit(1);
  }
  throw err;
});
try {
  const client = clusterClient(cluster.info);
  const pullgate = await startPullgateInCluster(cluster.info, client);
  console.log(`\npullgate is serving on https://127.0.0.1:${pullgate.port}/mutate (log: ${pullgate.logPath})\n`);

  console.log(bold(`1. kubectl apply -f test/fixtures/sample-app/app.yaml   (namespace ${APP_NAMESPACE})`));
  await client.kubectl(['apply', '-f', fixture('sample-app/app.yaml')]);
  printPods(await waitForPods(client, APP_NAMESPACE, 2));
  await printSecret(client, APP_NAMESPACE);

  console.log(bold(`\n2. helm install acme test/fixtures/charts/acme-platform   (namespace ${ADDITIONAL_NAMESPACE}, chart unmodified)`));
  await client.helm(['install', 'acme', fixture('charts/acme-platform'), '--namespace', ADDITIONAL_NAMESPACE]);
  printPods(await waitForPods(client, ADDITIONAL_NAMESPACE, 4));
  await printSecret(client, ADDITIONAL_NAMESPACE);
  console.log(bold(`\n3. helm template acme test/fixtures/charts/acme-platform | pullgate preview -f -   (offline, no cluster)`));
  const rendered = (await client.helm(['template', 'acme', fixture('charts/acme-platform')])).stdout;
  const preview = spawnSync(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url)), 'preview', '--config', pullgate.configPath, '-f', '-'], { input: rendered, encoding: 'utf8' });
  if (preview.status !== 0) throw new Error(`pullgate preview failed: ${preview.stderr}`);
  for (const line of preview.stdout.split('\n').filter((l) => /^\s*(image|kind):/.test(l))) console.log(`  ${line.trim()}`);

  console.log(`\nThe Pods stay Pending: this control plane has no scheduler or kubelet; admission is what is shown.`);
  await pullgate.process.stop();
} finally {
  await cluster.stop();
}
