import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import { watchPath } from '../util/watch-path.ts';
import { LicenseError, parseLicense, type License } from './license.ts';

/**
 * Keeps the license current: re-reads the file when its directory changes and hands every valid,
 * different license to `onChange`. An unreadable or invalid update is logged and the last good
 * license stays in force, so a bad edit never stops admission. `current` is the license already
 * in force; the file is read once more right after the watch starts, so an edit made between
 * start-up and the watch is not missed.
 */
export function followLicense(path: string, current: License, onChange: (license: License) => void, logger: Logger): { close(): void } {
  let applied = JSON.stringify(current);
  const reload = () => {
    readFile(path, 'utf8')
      .then((text) => {
        const license = parseLicense(text);
        const serialized = JSON.stringify(license);
        if (serialized === applied) return void logger.debug({ file: path }, 'license file read, unchanged');
        onChange(license);
        applied = serialized;
        logger.info({ file: path, appSlug: license.appSlug, expiresAt: license.expiresAt?.toISOString() }, 'license reloaded');
      })
      .catch((err: unknown) => {
        const reason = err instanceof LicenseError ? err.problems.join('; ') : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        logger.error({ file: path, reason }, 'license update rejected; keeping the previous license');
      });
  };
  const watch = watchPath(path, reload);
  reload();
  return watch;
}
