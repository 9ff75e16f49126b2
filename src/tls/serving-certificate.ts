import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { Logger } from '../logger.ts';
import { watchPath } from '../util/watch-path.ts';
import type { TlsMaterial } from '../server/https-server.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTlsFiles(files: TlsFiles): TlsMaterial {
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
}

/**
 * Swaps in a renewed certificate (cert-manager, or a re-mounted Secret) without a restart. A pair
 * that does not load is logged and the previous one keeps serving.
 */
export function reloadOnChange(server: Server, files: TlsFiles, logger: Logger): { close(): void } {
  const reload = () => {
    try {
      server.setSecureContext({ ...readTlsFiles(files), minVersion: 'TLSv1.2' });
      logger.info({ certFile: files.certFile }, 'serving certificate reloaded');
    } catch (err) {
      logger.error({ certFile: files.certFile, err: (err as Error).message }, 'serving certificate reload failed; keeping the previous one');
    }
  };
  const watchers = [watchPath(files.certFile, reload), ...(files.keyFile !== files.certFile ? [watchPath(files.keyFile, reload)] : [])];
  return { close: () => watchers.forEach((w) => w.close()) };
}
