// The benchmark's tools, found or installed: wrk from the distribution's packages, vegeta and the
// controller-runtime peer built from Go modules into a cache outside the work tree, keyed by
// version (as test/cluster/build.sh caches the control plane), so a warm machine starts at once.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/support/run.ts';

export const VEGETA_VERSION = 'v12.13.0';
const here = dirname(fileURLToPath(import.meta.url));
const peerDir = join(here, '..', 'peers', 'controller-runtime');
const cacheRoot = process.env.PULLGATE_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pullgate-bench');

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(3);
}

async function onPath(command: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${command}`])).code === 0;
}

async function goBinary(): Promise<string> {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    if (candidate === 'go' ? await onPath('go') : existsSync(candidate)) return candidate;
  }
  return fail('Go >= 1.26 is needed to build vegeta and the controller-runtime peer (https://go.dev/dl/); put it on PATH and retry.');
}

export async function ensureWrk(): Promise<string> {
  if (await onPath('wrk')) return 'wrk';
  if (process.getuid?.() === 0 && (await onPath('apt-get'))) {
    console.error('bench: installing wrk (apt-get install -y wrk)');
    const installed = await run('apt-get', ['install', '-y', 'wrk'], { timeoutMs: 300_000 });
    if (installed.code === 0) return 'wrk';
  }
  return fail('wrk not found: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) or from https://github.com/wg/wrk');
}

export async function ensureVegeta(): Promise<string> {
  const bin = join(cacheRoot, `vegeta-${VEGETA_VERSION}`, 'vegeta');
  if (existsSync(bin)) return bin;
  const go = await goBinary();
  console.error(`bench: building vegeta ${VEGETA_VERSION} from Go modules into ${dirname(bin)}`);
  await run(go, ['install', `github.com/tsenart/vegeta/v12@${VEGETA_VERSION}`], {
    env: { ...process.env, GOBIN: dirname(bin), CGO_ENABLED: '0' },
    timeoutMs: 1_200_000,
    check: true,
  });
  return bin;
}

/** The controller-runtime version the peer is built with, from its go.mod. */
export function controllerRuntimeVersion(): string {
  return /sigs\.k8s\.io\/controller-runtime (v\S+)/.exec(readFileSync(join(peerDir, 'go.mod'), 'utf8'))?.[1] ?? 'unknown';
}

export async function ensureGoPeer(): Promise<string> {
  // Keyed by the controller-runtime version and the peer's source, so an edit rebuilds it.
  const source = ['main.go', 'go.mod', 'go.sum'].map((f) => readFileSync(join(peerDir, f), 'utf8')).join('\0');
  const key = `controller-runtime-${controllerRuntimeVersion()}-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`;
  const bin = join(cacheRoot, key, 'peer');
  if (existsSync(bin)) return bin;
  const go = await goBinary();
  console.error(`bench: building the controller-runtime peer into ${dirname(bin)} (minutes on a cold module cache)`);
  await run(go, ['build', '-o', bin, '.'], { cwd: peerDir, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' }, timeoutMs: 1_800_000, check: true });
  return bin;
}
