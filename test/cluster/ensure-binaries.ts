// Builds (or finds cached) control-plane binaries via build.sh and says whether e2e tests may run.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../support/run.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('./build.sh', import.meta.url));
/** build.sh's exit status when no Go toolchain is on PATH. */
const EXIT_GO_MISSING = 3;

export class GoToolchainMissingError extends Error {
  constructor(detail: string) {
    super(`Go toolchain not found: the e2e control plane is built from Go modules and needs Go >= 1.26 on PATH.\n${detail}`.trimEnd());
    this.name = 'GoToolchainMissingError';
  }
}

export function isCI(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Runs build.sh (a warm cache answers at once; a cold one builds for many minutes, holding a lock so
 * concurrent callers wait) with its progress streamed to our stderr. Resolves to the bin directory.
 */
export async function ensureBinaries(): Promise<string> {
  // A cold build takes many minutes: no timeout.
  const { code, stdout, stderr } = await run('bash', [BUILD_SCRIPT], { timeoutMs: Infinity, onStderr: (chunk) => process.stderr.write(chunk) });
  if (code === EXIT_GO_MISSING) throw new GoToolchainMissingError(stderr);
  if (code !== 0) throw new Error(`${BUILD_SCRIPT} failed with exit code ${code}:\n${stderr.split('\n').slice(-30).join('\n')}`);
  const binDir = stdout.trim().split('\n').at(-1)?.trim();
  if (!binDir) throw new Error(`${BUILD_SCRIPT} printed no bin directory`);
  return binDir;
}

/**
 * Why the control plane cannot be had on this machine, or undefined when it can (possibly after a
 * long build). Outside CI a missing Go toolchain lets the e2e suite skip with this reason; under
 * CI=true it throws, because a skipped e2e suite in CI would hide every regression it guards.
 */
export function controlPlaneUnavailableReason(): string | undefined {
  const probe = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  // Binaries cached by an earlier build are usable without Go (build.sh checks its cache first).
  const cached = spawnSync('bash', [BUILD_SCRIPT, '--cached-only'], { encoding: 'utf8' });
  if (cached.status === 0) return undefined;
  const reason = 'Go toolchain (>= 1.26) not found on PATH and no cached control-plane binaries: end-to-end tests need it to build kube-apiserver, etcd and helm.';
  if (isCI()) throw new GoToolchainMissingError('CI=true: refusing to skip the end-to-end suite.');
  return reason;
}
