// followLicense: the mounted license Secret changes, pullgate picks the new one up.
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followLicense } from '../../../src/license/license-source.ts';
import { parseLicense, type License } from '../../../src/license/license.ts';
import { eventually } from '../../support/eventually.ts';
import { LICENSE_ID, licenseYaml, tempDir, writeLicense } from '../helpers/fixtures.ts';
import { captureLogs } from '../helpers/logs.ts';

// Within the test's 5 s, so a failure names what it waited for.
const WAIT = { timeoutMs: 4_000, intervalMs: 25 };

const settle = () => new Promise((r) => setTimeout(r, 600));

/** The license in force at start-up: what the file says now. */
function current(path: string): License {
  return parseLicense(readFileSync(path, 'utf8'));
}

describe('followLicense', () => {
  let dir: ReturnType<typeof tempDir>;
  let watch: { close(): void } | undefined;
  const seen: License[] = [];

  beforeEach(() => {
    dir = tempDir('pullgate-license-');
    seen.length = 0;
  });
  afterEach(() => {
    watch?.close();
    watch = undefined;
    dir.remove();
  });

  it('hands over a rewritten license file', async () => {
    const path = writeLicense(dir.path, { customerName: 'First' });
    const logs = captureLogs();
    watch = followLicense(path, current(path), (l) => seen.push(l), logs.logger);
    writeLicense(dir.path, { customerName: 'Second', expiresAt: '2020-01-01T00:00:00Z' });
    await eventually('a license handed over', () => seen.length > 0, WAIT);
    expect(seen.at(-1)).toMatchObject({ customerName: 'Second', expiresAt: new Date('2020-01-01T00:00:00Z') });
    expect(logs.records().some((r) => r.msg === 'license reloaded')).toBe(true);
    expect(logs.text()).not.toContain(LICENSE_ID);
  });

  it('keeps the last good license when the new file is invalid, and says why without the ID', async () => {
    const path = writeLicense(dir.path);
    const logs = captureLogs();
    watch = followLicense(path, current(path), (l) => seen.push(l), logs.logger);
    writeFileSync(path, `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: ${LICENSE_ID}\n`);
    await eventually('the rejection logged', () => logs.records().some((r) => r.msg === 'license update rejected; keeping the previous license'), WAIT);
    expect(seen).toEqual([]);
    expect(String(logs.records().find((r) => r.level === 50)?.reason)).toContain('spec.appSlug is required');
    expect(logs.text()).not.toContain(LICENSE_ID);
  });

  it('catches an edit made between start-up and the watch', async () => {
    const path = writeLicense(dir.path, { customerName: 'At start-up' });
    const atStart = current(path);
    writeLicense(dir.path, { customerName: 'Edited meanwhile' });
    watch = followLicense(path, atStart, (l) => seen.push(l), captureLogs().logger);
    await eventually('a license handed over', () => seen.length > 0, WAIT);
    expect(seen.map((l) => l.customerName)).toEqual(['Edited meanwhile']);
  });

  it('follows a Kubernetes Secret volume update (..data symlink swap)', async () => {
    // The layout the kubelet writes: license.yaml -> ..data/license.yaml, ..data -> ..<timestamp>.
    const first = join(dir.path, '..2026_01_01_00_00_00.000000001');
    mkdirSync(first);
    writeFileSync(join(first, 'license.yaml'), licenseYaml({ customerName: 'Mounted' }));
    symlinkSync('..2026_01_01_00_00_00.000000001', join(dir.path, '..data'));
    symlinkSync('..data/license.yaml', join(dir.path, 'license.yaml'));
    watch = followLicense(join(dir.path, 'license.yaml'), current(join(dir.path, 'license.yaml')), (l) => seen.push(l), captureLogs().logger);

    const second = join(dir.path, '..2026_01_02_00_00_00.000000002');
    mkdirSync(second);
    writeFileSync(join(second, 'license.yaml'), licenseYaml({ customerName: 'Renewed' }));
    symlinkSync('..2026_01_02_00_00_00.000000002', join(dir.path, '..data_tmp'));
    renameSync(join(dir.path, '..data_tmp'), join(dir.path, '..data'));

    await eventually('a license handed over', () => seen.length > 0, WAIT);
    expect(seen.at(-1)!.customerName).toBe('Renewed');
  });

  it('ignores other files in the directory, unchanged content, and everything after close()', async () => {
    const path = writeLicense(dir.path);
    const logs = captureLogs();
    watch = followLicense(path, current(path), (l) => seen.push(l), logs.logger);
    writeFileSync(join(dir.path, 'unrelated.txt'), 'x');
    await settle();
    expect(seen).toEqual([]);

    writeLicense(dir.path, { customerName: 'Changed' });
    await eventually('one license handed over', () => seen.length === 1, WAIT);
    // The same content again: read (observed in the log), not handed over.
    const unchangedReads = () => logs.records().filter((r) => r.msg === 'license file read, unchanged').length;
    const before = unchangedReads();
    writeLicense(dir.path, { customerName: 'Changed' });
    await eventually('the unchanged read logged', () => unchangedReads() > before, WAIT);
    expect(seen).toHaveLength(1);

    watch.close();
    writeLicense(dir.path, { customerName: 'After close' });
    await settle();
    expect(seen).toHaveLength(1);
  });
});
