// Long-running control-plane servers (etcd, kube-apiserver, kube-controller-manager) started so
// that none outlives this Node process:
//  - a normal exit or an uncaught exception runs the 'exit' hook, which SIGKILLs every group;
//  - SIGKILL/SIGTERM/SIGINT of Node (no hook runs) closes the stdin pipe of with-parent.sh, which
//    then stops its binary (see that script).
// Each server runs in its own process group (detached) so a kill reaches the wrapper, the binary
// and the watcher together.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../support/run.ts';

const WRAPPER = fileURLToPath(new URL('./with-parent.sh', import.meta.url));

const live = new Set<ChildProcess>();
let hookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Whether any process of the group led by `pid` is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Idempotent; call before registering 'exit' listeners that must run after the kill. */
export function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that cannot be ignored or delayed.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

export interface SupervisedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) when the server exits. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the whole process group is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the log, for error messages. */
  logTail(lines?: number): string;
}

export function startSupervised(name: string, binary: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): SupervisedProcess {
  installExitHook();
  // Server mode: own process group; stdin is the lifeline pipe (never written); output to the log.
  // Neither the child nor its lifeline keeps the event loop alive: a test runner that forgot stop()
  // still exits, and the exit hook cleans up.
  const running = run('bash', [WRAPPER, binary, ...args], { logPath, env: env ?? process.env, timeoutMs: Infinity });
  const child = running.child;
  if (running.pid === undefined) {
    // The reason arrives as the rejection; the error thrown here says which server.
    running.catch(() => {});
    throw new Error(`${name}: spawn failed`);
  }
  const pid = running.pid;
  live.add(child);

  const exited = running.then(
    (r) => r.code ?? r.signal ?? 'unknown',
    (err: Error) => `spawn error: ${err.message}`,
  );
  void exited.then(() => live.delete(child));

  const logTail = (lines = 40): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (!running.hasExited()) {
      // Keep the event loop alive until the exit is observed.
      child.ref();
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // The wrapper exits after its binary; anything else left in the group (the watcher) goes too.
    killGroup(child, 'SIGKILL');
  };

  return { name, logPath, pid, exited, hasExited: () => running.hasExited(), stop, logTail };
}
