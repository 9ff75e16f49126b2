import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import { watchPath } from '../util/watch-path.ts';
import { LicenseError, parseLicense, type License } from './license.ts';

/**
 * Keeps the license current: re-reads the file when its directory changes and hands every valid
 * new version to `onChange`. An unreadable or invalid update is logged and the last good license
 * stays in force, so a bad edit never stops admission.
 */
export function followLicense(path: string, onChange: (license: License) => void, logger: Logger): { close(): void } {
  let lastText: string | undefined;
  return watchPath(path, () => {
    readFile(path, 'utf8')
      .then((text) => {
        if (text === lastText) return;
        lastText = text;
        const license = parseLicense(text);
        onChange(license);
        logger.info({ file: path, appSlug: license.appSlug, expiresAt: license.expiresAt?.toISOString() }, 'license reloaded');
      })
      .catch((err: unknown) => {
        const reason = err instanceof LicenseError ? err.problems.join('; ') : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        logger.error({ file: path, reason }, 'license update rejected; keeping the previous license');
      });
  });
}
