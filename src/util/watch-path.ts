import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Calls `onChange` after `path` may have changed. Kubernetes updates mounted Secrets by swapping a
 * `..data` symlink in the directory, which a watch on the file itself never sees, so the directory
 * is watched and events are debounced (one swap produces several).
 */
export function watchPath(path: string, onChange: () => void, debounceMs = 200): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(path);
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, file) => {
    // A swap names `..data` or a `..<timestamp>` directory; a plain rewrite names the file.
    if (file !== null && file !== name && !file.startsWith('..')) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  watcher.on('error', () => {
    // The directory went away (e.g. an unmounted volume); the last good content stays in use.
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
