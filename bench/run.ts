// `npm run bench`: every performance target of pullgate measured in one run, each as a ratio to a
// peer measured in the same run with interleaved rounds, so the ratios hold on a noisy machine.
// Servers run on core 0, the load generators (and this script) on core 1, when there are two cores.
// Environment: BENCH_ROUNDS (5), BENCH_SECONDS (5, per throughput round), BENCH_RATE_SECONDS (5),
// BENCH_ADMISSIONS (1000000), BENCH_E2E=0 to skip the end-to-end target. BENCHMARKS.md holds a run.
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { eventually } from '../test/support/eventually.ts';
import { send } from '../test/support/http.ts';
import { run } from '../test/support/run.ts';
import { writeSetup } from '../test/unit/helpers/fixtures.ts';
import { generateTls } from '../test/unit/helpers/tls.ts';
import { benchReview } from './support/review.ts';
import { cpuSeconds, freePort, memoryCgroup, pinned, rssMiB, startServer, type Server } from './support/servers.ts';
import { TARGETS, type TargetName } from './support/targets.ts';
import { controllerRuntimeVersion, ensureGoPeer, ensureVegeta, ensureWrk, VEGETA_VERSION } from './support/tools.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 5);
const ADMISSIONS = Number(process.env.BENCH_ADMISSIONS ?? 1_000_000);
const CONNECTIONS = 32;
const RATE = 1000;
const began = Date.now();

const root = new URL('..', import.meta.url).pathname;
const values = parse(readFileSync(join(root, 'deploy/helm/pullgate/values.yaml'), 'utf8')) as { resources: { limits: { memory: string } }; nodeOptions?: string };
const memoryLimit = values.resources.limits.memory;
const limitBytes = Number(/^(\d+)Mi$/.exec(memoryLimit)?.[1] ?? NaN) * 2 ** 20;
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? values.nodeOptions ?? '';

const wrk = await ensureWrk();
const vegeta = await ensureVegeta();
const goPeer = await ensureGoPeer();

const twoCores = availableParallelism() >= 2;
const SERVER_CORE = twoCores ? 0 : undefined;
const LOAD_CORE = twoCores ? 1 : undefined;
if (twoCores) await run('taskset', ['-p', '-c', '1', String(process.pid)], { check: true });

const dir = mkdtempSync(join(tmpdir(), 'pullgate-bench-'));
const tls = generateTls(dir);
const node = process.execPath;
const servers: Server[] = [];
let cgroup: ReturnType<typeof memoryCgroup>;
if (!process.env.BENCH_KEEP) process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function line(text = ''): void {
  console.log(text);
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---- the servers ----
const FRESH = ['fresh-1', 'fresh-2', 'fresh-3', 'fresh-4', 'fresh-5', 'fresh-refused'];
const stubDir = join(dir, 'api');
mkdirSync(stubDir);
const stubStarted = run(...pinned(LOAD_CORE, node, [join(root, 'bench/support/stub-api.ts'), stubDir, 'my-app', 'pullgate']), { logPath: join(dir, 'stub.log'), timeoutMs: Infinity });
// Whatever happens, no server outlives the run.
process.on('exit', () => {
  for (const pid of [stubStarted.pid, ...servers.map((s) => s.pid)]) {
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  cgroup?.remove();
});
const stub = await eventually('the API stub', () => {
  try {
    return JSON.parse(readFileSync(join(stubDir, 'stub.json'), 'utf8')) as { kubeconfig: string; control: number };
  } catch {
    return undefined;
  }
}, { files: [stubDir], timeoutMs: 60_000 });
const stubControl = (path: string, method = 'POST') => send(stub.control, { method, path });

// pullgate serves my-app (its secret created by the reconciler at start) and namespaces that do
// not exist yet (the fresh-* ones), whose secret admission must create itself.
const { configFile } = writeSetup(dir, {}, { namespaces: { application: 'my-app', additional: FRESH } });
cgroup = Number.isFinite(limitBytes) && process.env.BENCH_CGROUP !== "0" ? memoryCgroup(`pullgate-bench-${process.pid}`, limitBytes) : undefined;
const pullgatePort = await freePort();
const pullgate = await startServer({
  name: 'pullgate serve',
  command: node,
  args: [join(root, 'src/main.ts'), 'serve', '--config', configFile, '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--host', '127.0.0.1', '--port', String(pullgatePort), '--metrics-port', String(await freePort()), '--namespace', 'pullgate', '--kubeconfig', stub.kubeconfig],
  port: pullgatePort,
  dir,
  core: SERVER_CORE,
  env: { ...process.env, NODE_OPTIONS: nodeOptions },
  cgroup: cgroup?.path,
});
servers.push(pullgate);
await eventually('pullgate ready', async () => (await send(pullgatePort, { path: '/readyz', ca: tls.caPem })).status === 200, { timeoutMs: 60_000, retryErrors: true });
await eventually('the pull secret in my-app', async () => (JSON.parse((await stubControl('/calls', 'GET')).text) as { secrets: string[] }).secrets.includes('my-app/my-app-registry'));

const barePort = await freePort();
const bare = await startServer({ name: 'bare node:https', command: node, args: [join(root, 'bench/peers/bare-https.ts'), String(barePort), tls.certFile, tls.keyFile], port: barePort, dir, core: SERVER_CORE });
servers.push(bare);
const goPort = await freePort();
const go = await startServer({ name: 'controller-runtime (Go)', command: goPeer, args: ['-addr', `127.0.0.1:${goPort}`, '-cert', tls.certFile, '-key', tls.keyFile], port: goPort, dir, core: SERVER_CORE, env: { ...process.env, GOMAXPROCS: '1' } });
servers.push(go);

async function shutdown(): Promise<void> {
  for (const s of servers) await s.stop();
  stubStarted.child.kill('SIGTERM');
  cgroup?.remove();
}
process.on('SIGINT', () => void shutdown().then(() => process.exit(130)));

const idleRss = rssMiB(pullgate.pid);

// ---- load generators ----
const bodies = new Map<string, string>();
function bodyFile(namespace: string): string {
  let file = bodies.get(namespace);
  if (!file) {
    file = join(dir, `review-${namespace}.json`);
    writeFileSync(file, benchReview(namespace));
    writeFileSync(`${file}.lua`, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(benchReview(namespace))}\n`);
    bodies.set(namespace, file);
  }
  return file;
}

let pullgateAdmissions = 0;
interface WrkResult {
  rps: number;
  requests: number;
  cpuMicros: number;
}

async function wrkRound(server: Server, seconds: number, namespace = 'my-app'): Promise<WrkResult> {
  const body = bodyFile(namespace);
  const cpuBefore = cpuSeconds(server.pid);
  const out = await run(...pinned(LOAD_CORE, wrk, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', `${body}.lua`, `https://127.0.0.1:${server.port}/mutate`]), { timeoutMs: (seconds + 60) * 1000, check: true });
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  const requests = Number(/(\d+) requests in/.exec(out.stdout)?.[1] ?? 0);
  const failed = /Non-2xx or 3xx responses: (\d+)/.exec(out.stdout)?.[1];
  if (failed) throw new Error(`${server.name}: ${failed} failed responses`);
  if (server === pullgate) pullgateAdmissions += requests;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1] ?? 0), requests, cpuMicros: (cpu / Math.max(requests, 1)) * 1e6 };
}

interface RateResult {
  p50: number;
  p99: number;
  max: number;
  success: number;
}

async function vegetaRound(server: Server): Promise<RateResult> {
  const body = bodyFile('my-app');
  const targets = join(dir, `targets-${server.port}.txt`);
  writeFileSync(targets, `POST https://127.0.0.1:${server.port}/mutate\nContent-Type: application/json\n@${body}\n`);
  const [cmd, args] = pinned(LOAD_CORE, vegeta, ['attack', `-rate=${RATE}/s`, `-duration=${RATE_SECONDS}s`, `-targets=${targets}`, `-root-certs=${tls.caFile}`, '-keepalive=true']);
  const out = await run('sh', ['-c', `"$0" "$@" | "${vegeta}" report -type=json`, cmd, ...args], { timeoutMs: (RATE_SECONDS + 60) * 1000, check: true });
  const report = JSON.parse(out.stdout) as { latencies: Record<string, number>; success: number; requests: number };
  if (server === pullgate) pullgateAdmissions += report.requests;
  const ms = (ns: number) => ns / 1e6;
  return { p50: ms(report.latencies['50th']!), p99: ms(report.latencies['99th']!), max: ms(report.latencies.max!), success: report.success };
}

// ---- the run ----
const results = new Map<TargetName, { measured: string; met: boolean }>();
line(`pullgate benchmark — ${new Date().toISOString()}`);
line(`machine: ${cpus()[0]?.model.trim()} × ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30, 1)} GiB; Node ${process.version}; wrk -t1 -c${CONNECTIONS} keep-alive HTTPS; vegeta ${VEGETA_VERSION}; controller-runtime ${controllerRuntimeVersion()} (GOMAXPROCS=1)`);
line(twoCores ? 'servers pinned to core 0 (taskset -c 0); wrk, vegeta, the API stub and this script to core 1' : 'one core: servers and load generators share it (no pinning)');
line(`pullgate: src/main.ts serve, info logging to a file, metrics on, secret check against an informer-cached Secret; NODE_OPTIONS="${nodeOptions}"; ${cgroup ? `in a memory cgroup limited to ${memoryLimit} (the chart's limit)` : `no memory cgroup available (the chart's limit is ${memoryLimit})`}`);
line(`review: ${benchReview('my-app').length} bytes (3 containers, 1 init container, 2 private images, pull secret referenced)`);
line();

// 1. Throughput, interleaved rounds.
line(`1. Throughput: ${ROUNDS} interleaved rounds of ${SECONDS} s each`);
const peers = [bare, pullgate, go];
const rounds = new Map<Server, WrkResult[]>(peers.map((s) => [s, []]));
for (const s of peers) await wrkRound(s, 2); // warm-up: JIT, connections
for (let r = 0; r < ROUNDS; r++) for (const s of peers) rounds.get(s)!.push(await wrkRound(s, SECONDS));
const rps = (s: Server) => median(rounds.get(s)!.map((x) => x.rps));
const cpuPer = (s: Server) => median(rounds.get(s)!.map((x) => x.cpuMicros));
line(`   ${'server'.padEnd(26)} ${'req/s (median)'.padStart(15)} ${'of bare'.padStart(8)} ${'CPU µs/req'.padStart(11)}   rounds`);
for (const s of peers) {
  line(`   ${s.name.padEnd(26)} ${fmt(rps(s)).padStart(15)} ${fmt(rps(s) / rps(bare), 2).padStart(8)} ${fmt(cpuPer(s)).padStart(11)}   ${rounds.get(s)!.map((x) => fmt(x.rps)).join(' ')}`);
}
const ratio1 = rps(pullgate) / rps(bare);
results.set('throughput', { measured: `${fmt(ratio1, 2)} of bare; ${fmt(rps(pullgate) / rps(go), 2)}× controller-runtime`, met: ratio1 >= 0.7 && rps(pullgate) > rps(go) });
line();

// 2. Tail at a fixed rate.
const RATE_ROUNDS = Math.max(1, Math.ceil(ROUNDS / 2));
line(`2. Latency at ${fmt(RATE)} req/s (vegeta, ${RATE_ROUNDS} interleaved rounds of ${RATE_SECONDS} s; p99 median of rounds, max of all)`);
const rate = new Map<Server, RateResult[]>(peers.map((s) => [s, []]));
for (let r = 0; r < RATE_ROUNDS; r++) for (const s of peers) rate.get(s)!.push(await vegetaRound(s));
const p99 = (s: Server) => median(rate.get(s)!.map((x) => x.p99));
const maxOf = (s: Server) => Math.max(...rate.get(s)!.map((x) => x.max));
line(`   ${'server'.padEnd(26)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'success'.padStart(8)}   p99 per round`);
for (const s of peers) {
  const rs = rate.get(s)!;
  line(`   ${s.name.padEnd(26)} ${fmt(median(rs.map((x) => x.p50)), 2).padStart(8)} ${fmt(p99(s), 2).padStart(8)} ${fmt(maxOf(s), 1).padStart(8)} ${fmt(Math.min(...rs.map((x) => x.success * 100)), 1).padStart(7)}%   ${rs.map((x) => fmt(x.p99, 2)).join(' ')}`);
}
const ratio2 = p99(pullgate) / p99(bare);
results.set('p99 at 1,000 req/s', { measured: `${fmt(ratio2, 2)}× bare p99 (${fmt(p99(pullgate), 2)} vs ${fmt(p99(bare), 2)} ms); max ${fmt(maxOf(pullgate), 1)} ms`, met: ratio2 <= 2 });
line();

// 3. Memory over a million admissions.
line(`3. Memory: pullgate RSS idle, after 100k and after ${fmt(ADMISSIONS)} admissions (wrk until the count is reached)`);
let peakRss = rssMiB(pullgate.pid);
async function admitUntil(count: number): Promise<void> {
  while (pullgateAdmissions < count) {
    const left = count - pullgateAdmissions;
    await wrkRound(pullgate, Math.max(1, Math.min(20, Math.ceil(left / Math.max(rps(pullgate), 1)))));
    peakRss = Math.max(peakRss, rssMiB(pullgate.pid));
  }
}
const checkpoint = Math.min(100_000, ADMISSIONS);
await admitUntil(checkpoint);
const rssAtCheckpoint = rssMiB(pullgate.pid);
const countAtCheckpoint = pullgateAdmissions;
await admitUntil(ADMISSIONS);
const rssAtEnd = rssMiB(pullgate.pid);
const growth = rssAtEnd / rssAtCheckpoint - 1;
line(`   idle ${fmt(idleRss, 1)} MiB; after ${fmt(countAtCheckpoint)}: ${fmt(rssAtCheckpoint, 1)} MiB; after ${fmt(pullgateAdmissions)}: ${fmt(rssAtEnd, 1)} MiB; growth ${fmt(growth * 100, 1)} %; peak seen ${fmt(peakRss, 1)} MiB`);
results.set('RSS after 1M admissions', { measured: `${fmt(rssAtEnd, 1)} MiB after ${fmt(pullgateAdmissions)}, growth ${fmt(growth * 100, 1)} % from ${fmt(countAtCheckpoint)}`, met: rssAtEnd <= 150 && growth < 0.1 && pullgateAdmissions >= 1_000_000 });
line();

/** The lines of a file from a byte offset on, read as a stream. */
async function logLinesFrom(path: string, start: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of createInterface({ input: createReadStream(path, { start, encoding: 'utf8' }), crlfDelay: Infinity })) lines.push(l);
  return lines;
}

// 4. API server hung, then unreachable.
line(`4. API server hung / unreachable: admissions to a served namespace whose pull secret does not exist yet (${ROUNDS} interleaved rounds of ${SECONDS} s)`);
line('   each round after one admission that found the failure (a hung call waits out its deadline)');
async function firstAdmission(namespace: string): Promise<number> {
  const t = performance.now();
  await send(pullgate.port, { method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' }, body: benchReview(namespace), ca: tls.caPem });
  return performance.now() - t;
}
// Only this phase's log lines are read: after a million admissions the log is hundreds of MB.
const logOffset = statSync(pullgate.logPath).size;
const healthy: number[] = [];
const hung: number[] = [];
const firstWaits: number[] = [];
const HUNG_ROUNDS = Math.min(ROUNDS, 5);
for (let r = 0; r < HUNG_ROUNDS; r++) {
  healthy.push((await wrkRound(pullgate, SECONDS)).rps);
  await stubControl('/hang');
  firstWaits.push(await firstAdmission(FRESH[r]!));
  hung.push((await wrkRound(pullgate, SECONDS, FRESH[r]!)).rps);
  await stubControl('/resume');
}
await stubControl('/refuse');
const refusedWait = await firstAdmission('fresh-refused');
const refused = (await wrkRound(pullgate, SECONDS, 'fresh-refused')).rps;
const warned = (await logLinesFrom(pullgate.logPath, logOffset)).filter((l) => l.includes('"secretError"')).length;
const ratio4 = Math.min(median(hung), refused) / median(healthy);
line(`   healthy (secret cached) ${fmt(median(healthy))} req/s; hung ${fmt(median(hung))} req/s (${fmt(median(hung) / median(healthy), 2)}); refused ${fmt(refused)} req/s (${fmt(refused / median(healthy), 2)})`);
line(`   first admission to find the failure: hung ${firstWaits.map((x) => fmt(x)).join(' ')} ms, refused ${fmt(refusedWait)} ms; admissions answered with the secret warning: ${fmt(warned)}`);
results.set('API server unreachable or hung', { measured: `${fmt(ratio4, 2)} of healthy (worse of hung and refused)`, met: ratio4 >= 0.8 });
line();

await shutdown();

// 5. End to end through the real API server.
if (process.env.BENCH_E2E !== '0') {
  const { podBurst } = await import('./support/pod-burst.ts');
  line('5. End to end: 300 Pods across 3 namespaces through the real API server, pullgate registered vs no webhook');
  const e2e = await podBurst({ node, root, nodeOptions, line });
  results.set('e2e Pod creation', { measured: `${fmt(e2e.ratio, 2)} wall-time ratio; ${e2e.requests} requests by pullgate during the burst`, met: e2e.ratio <= 1.15 && e2e.requests <= e2e.allowedRequests });
} else {
  line('5. End to end: skipped (BENCH_E2E=0)');
}
line();

line('Targets');
for (const t of TARGETS) {
  const r = results.get(t.name);
  line(`   ${r ? (r.met ? 'met    ' : 'NOT met') : 'skipped'}  ${t.name.padEnd(32)} ${t.goal.padEnd(44)} ${r?.measured ?? ''}`);
}
line(`\nwall time ${fmt((Date.now() - began) / 1000)} s`);
