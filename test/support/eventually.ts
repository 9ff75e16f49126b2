// The one way tests wait for something: call a check until it yields a value. Waits are woken by
// events where there are some (a watched file changes, a watched server exits) and otherwise poll;
// the deadline is generous because a loaded two-core machine is slow, not because anything should
// take that long. A server the wait depends on dying fails the wait at once, with its log tail.
import { watch as watchFile, type FSWatcher } from 'node:fs';

/** A server a wait depends on (test/cluster's SupervisedProcess is one). */
export interface Watched {
  readonly name: string;
  readonly logPath: string;
  /** Settles when the process exits. */
  readonly exited: Promise<unknown>;
  hasExited(): boolean;
  logTail(lines?: number): string;
}

export interface EventuallyOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Pause between checks when no event wakes the wait first. Default 250 ms. */
  intervalMs?: number;
  /** Fail at once, with its log tail, when one of these exits. */
  watch?: readonly Watched[];
  /** Check again as soon as one of these files (or directories) changes. */
  files?: readonly string[];
  /**
   * Treat an error thrown by the check as "not yet" (a server still starting refuses connections);
   * the last one is reported at the deadline. Default: an error fails the wait at once.
   */
  retryErrors?: boolean;
}

export class WaitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitError';
  }
}

/** What a check returns while the condition does not hold yet. */
export type NotYet = undefined | false;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_INTERVAL_MS = 250;

function deathMessage(p: Watched, what: string): string {
  return `${p.name} exited while waiting for ${what}. Log ${p.logPath}:\n${p.logTail()}`;
}

/**
 * Calls `check` until it returns something other than `undefined` or `false`, and resolves with
 * that. A number as `options` is the timeout. A check still running at the deadline fails the wait
 * without being waited for.
 */
export async function eventually<T>(
  what: string,
  check: () => T | NotYet | Promise<T | NotYet>,
  options: EventuallyOptions | number = {},
): Promise<T> {
  const opts = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const watched = opts.watch ?? [];
  const deadline = Date.now() + timeoutMs;

  // One wake-up signal for everything that may have changed the answer; re-armed after each check.
  let wake: () => void = () => {};
  let woken = false;
  const signal = (): void => {
    woken = true;
    wake();
  };
  const watchers: FSWatcher[] = [];
  for (const file of opts.files ?? []) {
    try {
      const w = watchFile(file, { persistent: false }, signal);
      w.on('error', () => {});
      watchers.push(w);
    } catch {
      // Not there yet: the interval covers it.
    }
  }
  const gone = (p: Watched) => ({ died: p });
  const died = Promise.race(watched.map((p) => p.exited.then(() => gone(p), () => gone(p))));
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) => new Promise<'timer'>((resolve) => {
    timers.add(setTimeout(() => resolve('timer'), Math.max(0, ms)));
  });
  const clearTimers = (): void => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };

  const timeout = (lastError: string, stillRunning: boolean): WaitError => {
    const logs = watched.map((p) => `\n--- ${p.name} (${p.logPath}):\n${p.logTail(20)}`).join('');
    const detail = stillRunning ? ' (the last check had not returned)' : lastError ? ` (last error: ${lastError})` : '';
    return new WaitError(`timed out after ${timeoutMs} ms waiting for ${what}${detail}${logs}`);
  };

  try {
    let lastError = '';
    for (;;) {
      const dead = watched.find((p) => p.hasExited());
      if (dead) throw new WaitError(deathMessage(dead, what));
      woken = false;
      // The check itself races the deadline and the watched servers: a check that hangs on a dead
      // or hung server must not hold the wait past its deadline.
      const attempt = Promise.resolve()
        .then(check)
        .then((value) => ({ value }), (error: unknown) => ({ error }));
      const outcome = await Promise.race([attempt, sleep(deadline - Date.now()), died]);
      clearTimers();
      if (outcome === 'timer') throw timeout(lastError, true);
      if ('died' in outcome) throw new WaitError(deathMessage(outcome.died, what));
      if ('error' in outcome) {
        if (!opts.retryErrors) throw outcome.error;
        lastError = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      } else {
        lastError = '';
        if (outcome.value !== undefined && outcome.value !== false) return outcome.value as T;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw timeout(lastError, false);
      if (!woken) {
        const woke = new Promise<'wake'>((resolve) => (wake = () => resolve('wake')));
        await Promise.race([sleep(Math.min(intervalMs, left)), woke, died]);
        clearTimers();
        wake = () => {};
      }
    }
  } finally {
    clearTimers();
    for (const w of watchers) w.close();
  }
}
