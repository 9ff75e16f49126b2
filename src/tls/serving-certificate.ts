import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { Logger } from '../logger.ts';
import { watchPath } from '../util/watch-path.ts';
import type { TlsMaterial } from '../server/https-server.ts';
import { createCertificateAuthority, issueServerCertificate } from './certificates.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTlsFiles(files: TlsFiles): TlsMaterial {
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
}

/** How often the files are read even without a file event: an event can be missed (certwatcher does the same). */
export const TLS_FILES_POLL_MS = 10_000;

/**
 * Swaps in a renewed certificate (cert-manager, or a re-mounted Secret) without a restart: on a
 * file event, and on a periodic read, whichever sees the change first; an unchanged pair is not
 * loaded again. A pair that does not load is logged (once per content) and the previous one keeps
 * serving.
 */
export function reloadOnChange(server: Server, files: TlsFiles, logger: Logger, pollMs = TLS_FILES_POLL_MS): { close(): void } {
  let last: string | undefined;
  try {
    const initial = readTlsFiles(files);
    last = `${initial.cert.toString()}\0${initial.key.toString()}`;
  } catch {
    // Read again at the next event or poll.
  }
  const reload = () => {
    try {
      const material = readTlsFiles(files);
      const content = `${material.cert.toString()}\0${material.key.toString()}`;
      if (content === last) return;
      last = content;
      server.setSecureContext({ ...material, minVersion: 'TLSv1.2' });
      logger.info({ certFile: files.certFile }, 'serving certificate reloaded');
    } catch (err) {
      logger.error({ certFile: files.certFile, err: (err as Error).message }, 'serving certificate reload failed; keeping the previous one');
    }
  };
  const watchers = [watchPath(files.certFile, reload), ...(files.keyFile !== files.certFile ? [watchPath(files.keyFile, reload)] : [])];
  const poll = setInterval(reload, pollMs);
  poll.unref();
  return {
    close: () => {
      clearInterval(poll);
      watchers.forEach((w) => w.close());
    },
  };
}

/**
 * A throwaway self-signed pair to listen with until the self-managed certificate is in place, so
 * the kubelet's probes reach /healthz and /readyz (which says not ready) meanwhile. No client
 * trusts it; it is never in any caBundle.
 */
export function placeholderTls(): TlsMaterial {
  const ca = createCertificateAuthority('pullgate-placeholder', 1);
  const pair = issueServerCertificate(ca, ['pullgate-placeholder.invalid'], 'pullgate-placeholder.invalid');
  return { cert: pair.certPem, key: pair.keyPem };
}
