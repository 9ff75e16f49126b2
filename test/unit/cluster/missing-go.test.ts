import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The end-to-end suite's guard: on a machine with neither Go nor cached binaries, the build script
// says so plainly, the suite is skipped with that reason outside CI, and CI fails instead of skipping.
const BUILD = fileURLToPath(new URL('../../cluster/build.sh', import.meta.url));
const ENSURE = fileURLToPath(new URL('../../cluster/ensure-binaries.ts', import.meta.url));
const emptyCache = mkdtempSync(join(tmpdir(), 'pullgate-empty-cache-'));
afterAll(() => rmSync(emptyCache, { recursive: true, force: true }));

// bash and coreutils stay reachable; the Go toolchain (/usr/local/go/bin, ~/go/bin) does not.
const noGo = { PATH: '/usr/bin:/bin', HOME: emptyCache, PULLGATE_CLUSTER_CACHE: emptyCache };

function reason(ci: string) {
  const script = `import { controlPlaneUnavailableReason } from ${JSON.stringify(ENSURE)};
try { console.log('reason:' + controlPlaneUnavailableReason()); } catch (e) { console.log('threw:' + e.message); }`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...noGo, CI: ci }, encoding: 'utf8' });
}

describe('control plane without Go', () => {
  it('build.sh exits 3 with a message naming the missing toolchain', () => {
    expect(spawnSync('sh', ['-c', 'command -v go'], { env: noGo }).status, 'go must be off PATH for this test').not.toBe(0);
    const out = spawnSync('bash', [BUILD], { env: noGo, encoding: 'utf8' });
    expect(out.status).toBe(3);
    expect(out.stderr).toMatch(/Go toolchain not found.*Go >= 1\.26/s);
  });

  it('is a skip reason outside CI and a hard failure under CI=true', () => {
    const local = reason('');
    expect(local.stdout).toMatch(/^reason:Go toolchain \(>= 1\.26\) not found/m);
    const ci = reason('true');
    expect(ci.stdout).toMatch(/^threw:Go toolchain not found.*\nCI=true: refusing to skip the end-to-end suite/m);
  });
});
