// reloadOnChange on a real HTTPS server: a renewed serving certificate is used for new
// connections without a restart, whether the files are rewritten in place or swapped the way the
// kubelet updates a Secret volume (..data symlink), and a broken pair never replaces a good one.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import express from 'express';
import { afterEach, beforeAll, afterAll, describe, expect, it, vi } from 'vitest';
import { createHttpsServer } from '../../../src/server/https-server.ts';
import { readTlsFiles, reloadOnChange, type TlsFiles } from '../../../src/tls/serving-certificate.ts';
import { eventually } from '../../support/eventually.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { generateTls } from '../helpers/tls.ts';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });

interface Pair {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint as node:tls reports it for a peer certificate. */
  fingerprint: string;
  serial: string;
}

const WAIT = { timeoutMs: 5_000, intervalMs: 50 };

/** Opens a fresh TLS connection (no session reuse) and returns the certificate the server presented. */
function presented(port: number): Promise<{ fingerprint: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      resolve({ fingerprint: peer.fingerprint256, serial: peer.serialNumber.toUpperCase() });
    });
    socket.on('error', reject);
  });
}

/** The leaf certificate's fingerprint of whatever a new connection gets now. */
async function servedFingerprint(port: number): Promise<string> {
  return (await presented(port)).fingerprint;
}

describe('reloadOnChange: serving certificate rotation on a live HTTPS server', () => {
  // Four independent certificates (each with its own key), generated once.
  const pairs: Pair[] = [];
  let scratch: ReturnType<typeof tempDir>;

  beforeAll(() => {
    scratch = tempDir('pullgate-tls-src-');
    for (let i = 0; i < 4; i++) {
      const dir = join(scratch.path, String(i));
      mkdirSync(dir);
      const fixture = generateTls(dir);
      const x509 = new X509Certificate(fixture.certPem);
      pairs.push({ certPem: fixture.certPem, keyPem: fixture.keyPem, fingerprint: x509.fingerprint256, serial: x509.serialNumber.toUpperCase() });
    }
    // The comparisons below mean something only if the certificates differ.
    expect(new Set(pairs.map((p) => p.fingerprint)).size).toBe(4);
  });
  afterAll(() => scratch.remove());

  let dir: ReturnType<typeof tempDir>;
  let server: Server | undefined;
  let watch: { close(): void } | undefined;
  let logs: CapturedLogs;

  afterEach(async () => {
    watch?.close();
    watch = undefined;
    if (server) {
      const s = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    }
    dir.remove();
  });

  /** Serves `files` the way startPullgate does: createHttpsServer from the files, then reloadOnChange. */
  async function serve(files: TlsFiles): Promise<number> {
    logs = captureLogs();
    server = createHttpsServer(readTlsFiles(files), async (_req, res) => void res.end(), express(), logs.logger);
    watch = reloadOnChange(server, files, logs.logger);
    const s = server;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return (s.address() as AddressInfo).port;
  }

  function writePlain(files: TlsFiles, pair: { certPem: string; keyPem: string }): void {
    writeFileSync(files.certFile, pair.certPem);
    writeFileSync(files.keyFile, pair.keyPem, { mode: 0o600 });
  }

  const reloads = () => logs.records().filter((r) => r.msg === 'serving certificate reloaded').length;
  const failures = () => logs.records().filter((r) => r.msg === 'serving certificate reload failed; keeping the previous one');

  it('serves a certificate rewritten in place to new connections', async () => {
    const [a, b] = [pairs[0]!, pairs[1]!];
    dir = tempDir('pullgate-tls-');
    const files = { certFile: join(dir.path, 'tls.crt'), keyFile: join(dir.path, 'tls.key') };
    writePlain(files, a);
    const port = await serve(files);

    const first = await presented(port);
    expect(first).toEqual({ fingerprint: a.fingerprint, serial: a.serial });

    writePlain(files, b);
    await eventually('new connections to present certificate B', async () => (await servedFingerprint(port)) === b.fingerprint, WAIT);
    expect(await presented(port)).toEqual({ fingerprint: b.fingerprint, serial: b.serial });
    await eventually('the reload to be logged', () => reloads() > 0, WAIT);
    const record = logs.records().find((r) => r.msg === 'serving certificate reloaded')!;
    expect(record).toMatchObject({ level: 30, certFile: files.certFile });
  });

  it('follows a Kubernetes Secret volume update (..data symlink swap), more than once', async () => {
    const [a, c, d] = [pairs[0]!, pairs[2]!, pairs[3]!];
    dir = tempDir('pullgate-tls-');
    // The kubelet's atomic writer: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/.
    const version = (name: string, pair: Pair) => {
      mkdirSync(join(dir.path, name));
      writeFileSync(join(dir.path, name, 'tls.crt'), pair.certPem);
      writeFileSync(join(dir.path, name, 'tls.key'), pair.keyPem, { mode: 0o600 });
    };
    const swap = (name: string, previous: string) => {
      symlinkSync(name, join(dir.path, '..data_tmp'));
      renameSync(join(dir.path, '..data_tmp'), join(dir.path, '..data'));
      // The kubelet removes the old version once ..data points at the new one.
      rmSync(join(dir.path, previous), { recursive: true });
    };
    version('..2026_01_01_00_00_00.000000001', a);
    symlinkSync('..2026_01_01_00_00_00.000000001', join(dir.path, '..data'));
    symlinkSync('..data/tls.crt', join(dir.path, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir.path, 'tls.key'));
    const port = await serve({ certFile: join(dir.path, 'tls.crt'), keyFile: join(dir.path, 'tls.key') });
    expect(await servedFingerprint(port)).toBe(a.fingerprint);

    version('..2026_02_01_00_00_00.000000002', c);
    swap('..2026_02_01_00_00_00.000000002', '..2026_01_01_00_00_00.000000001');
    await eventually('new connections to present certificate C', async () => (await servedFingerprint(port)) === c.fingerprint, WAIT);
    expect((await presented(port)).serial).toBe(c.serial);

    // A second renewal: the watch must survive the first swap (a watch on the old file would not).
    version('..2026_03_01_00_00_00.000000003', d);
    swap('..2026_03_01_00_00_00.000000003', '..2026_02_01_00_00_00.000000002');
    await eventually('new connections to present certificate D', async () => (await servedFingerprint(port)) === d.fingerprint, WAIT);
    expect(failures()).toEqual([]);
  });

  it('keeps serving the last good certificate when the new files do not load, logs why, and recovers', async () => {
    const [a, b] = [pairs[0]!, pairs[1]!];
    dir = tempDir('pullgate-tls-');
    const files = { certFile: join(dir.path, 'tls.crt'), keyFile: join(dir.path, 'tls.key') };
    writePlain(files, a);
    const port = await serve(files);
    expect(await servedFingerprint(port)).toBe(a.fingerprint);

    // 1. A certificate with someone else's key.
    writePlain(files, { certPem: b.certPem, keyPem: a.keyPem });
    await eventually('a reload failure for the mismatched pair', () => failures().length > 0, WAIT);
    expect(await servedFingerprint(port)).toBe(a.fingerprint);
    expect(failures()[0]).toMatchObject({ level: 50, certFile: files.certFile });
    expect(String(failures()[0]!.err)).toMatch(/key values mismatch/i);

    // 2. A truncated certificate (valid key of the same pair). Told apart from a late failure of
    // step 1 (each watched file debounces on its own) by the reason.
    const mismatch = (r: Record<string, unknown>) => /key values mismatch/i.test(String(r.err));
    writePlain(files, { certPem: b.certPem.slice(0, 200), keyPem: b.keyPem });
    await eventually('a reload failure for the truncated certificate', () => failures().some((r) => !mismatch(r)), WAIT);
    expect(failures().find((r) => !mismatch(r))).toMatchObject({ level: 50, certFile: files.certFile, err: expect.stringMatching(/PEM|ASN1|DECODER/) });
    expect(await servedFingerprint(port)).toBe(a.fingerprint);

    // Nothing that failed to load was ever logged as reloaded, and no key material reached the log.
    expect(reloads()).toBe(0);
    expect(logs.text()).not.toContain('PRIVATE KEY');
    expect(logs.text()).not.toContain(a.keyPem.split('\n')[1]!);

    // 3. The watch is still alive: a good pair is picked up again.
    writePlain(files, b);
    await eventually('new connections to present certificate B', async () => (await servedFingerprint(port)) === b.fingerprint, WAIT);
  });

  it('stops following the files after close()', async () => {
    const [a, b] = [pairs[0]!, pairs[1]!];
    dir = tempDir('pullgate-tls-');
    const files = { certFile: join(dir.path, 'tls.crt'), keyFile: join(dir.path, 'tls.key') };
    writePlain(files, a);
    const port = await serve(files);
    watch!.close();
    watch = undefined;
    writePlain(files, b);
    // A negative can only be observed by waiting: well past the 200 ms debounce.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await servedFingerprint(port)).toBe(a.fingerprint);
    expect(logs.lines).toEqual([]);
  });
});
