// `pullgate doctor` as shipped: its flags, its exit codes, and its report on a cluster where
// nothing is installed (a stub API server). Installations, healthy and broken, on the real API
// server: test/e2e/doctor.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHECK_IDS } from '../../../src/doctor/check.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { startKubeStub, type KubeStub } from '../helpers/kube-stub.ts';
import { generateTls } from '../helpers/tls.ts';

// Each test spawns Node (about a second on a busy two-core machine).
vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 });

describe('pullgate doctor', () => {
  let dir: ReturnType<typeof tempDir>;
  let stub: KubeStub;
  let kubeconfig: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir('pullgate-cli-doctor-');
    stub = await startKubeStub(generateTls(dir.path));
    kubeconfig = stub.writeKubeconfig(join(dir.path, 'kubeconfig'));
  });
  afterAll(async () => {
    await stub?.close();
    dir?.remove();
  });

  it('lists its flags and exit codes', async () => {
    const result = await runCli(['doctor', '--help']);
    expect(result.code).toBe(0);
    for (const flag of ['--kubeconfig <file>', '--context <name>', '-n, --namespace <name>', '-c, --config <file>', '--license <file>', '--webhook <name>', '-o, --output <format>']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('Exit codes: 0 nothing wrong (warnings may be listed), 1 a check failed, 2 the cluster could not be examined.');
  });

  it('exits 2 when the kubeconfig cannot be used, and 1 on a bad flag', async () => {
    const missing = await runCli(['doctor', '--kubeconfig', join(dir.path, 'none')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^pullgate: cannot use the kubeconfig: ENOENT/);
    const context = await runCli(['doctor', '--kubeconfig', kubeconfig, '--context', 'elsewhere']);
    expect(context.code).toBe(2);
    expect(context.stderr).toContain('no context elsewhere in the kubeconfig');
    const output = await runCli(['doctor', '--kubeconfig', kubeconfig, '-o', 'yaml']);
    expect(output.code).toBe(1);
    expect(output.stderr).toMatch(/argument 'yaml' is invalid/);
  });

  it('reports a cluster with nothing installed, and exits 1', async () => {
    const result = await runCli(['doctor', '--kubeconfig', kubeconfig, '-n', 'pullgate', '-o', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { status: string; checks: { id: string; status: string; summary: string }[] };
    expect(report.status).toBe('fail');
    expect(report.checks.map((c) => c.id)).toEqual(CHECK_IDS);
    expect(report.checks.find((c) => c.id === 'configuration')?.summary).toBe('the configuration from ConfigMap pullgate/pullgate-config, key config.yaml is not usable');
    expect(report.checks.find((c) => c.id === 'webhook-configuration')?.status).toBe('fail');
  });
});
