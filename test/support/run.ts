// The one place tests start a child process. A command runs to completion with its output
// captured (kubectl, helm, the pullgate CLI, build scripts); a server runs detached with its output
// in a log file, supervised by test/cluster/supervised-process.ts. Either way the caller gets the
// child and a promise of the result.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { basename } from 'node:path';

export interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  cwd?: string;
  /** The whole environment of the child; default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long; default 120 s; `Infinity` for none (servers). */
  timeoutMs?: number;
  /** Reject with a CommandError when the command does not exit with 0. */
  check?: boolean;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /**
   * Server mode: stdout and stderr are appended to this file instead of captured, the child leads
   * its own process group, its stdin stays an open pipe that is never written, and neither keeps
   * the event loop alive.
   */
  logPath?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because it outlived timeoutMs. */
  timedOut: boolean;
}

/** A started command: a promise of its result that also exposes the child while it runs. */
export interface Running extends Promise<RunResult> {
  readonly child: ChildProcess;
  /** Undefined when the spawn failed (the promise then rejects with the reason). */
  readonly pid: number | undefined;
  /** Output captured so far. */
  stdout(): string;
  stderr(): string;
  hasExited(): boolean;
}

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(command: string, result: RunResult) {
    const how = result.timedOut ? 'was killed after its timeout' : result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`;
    super(`${command} ${how}:\n${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

const DEFAULT_TIMEOUT_MS = 120_000;

export function run(file: string, args: readonly string[], options: RunOptions = {}): Running {
  const server = options.logPath !== undefined;
  const logFd = server ? openSync(options.logPath!, 'a') : undefined;
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: server,
      stdio: logFd === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', logFd, logFd],
    });
  } finally {
    // The child has its own copy of the descriptor.
    if (logFd !== undefined) closeSync(logFd);
  }

  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    options.onStdout?.(c);
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    options.onStderr?.(c);
  });
  // EPIPE when the command exits before reading its input: its exit status is the answer.
  child.stdin?.on('error', () => {});
  if (server) {
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  } else {
    child.stdin?.end(options.input ?? '');
  }

  let exited = false;
  let timedOut = false;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs)
    : undefined;
  if (server) timer?.unref();

  const result = new Promise<RunResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', () => {
      exited = true;
      // A server's stdin pipe is ours; with the child gone it only holds a descriptor.
      if (server) child.stdin?.destroy();
    });
    // 'close' comes after 'exit' once the captured output is complete.
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      const res: RunResult = { code, signal, stdout, stderr, timedOut };
      if (options.check && code !== 0) reject(new CommandError(`${basename(file)} ${args.join(' ')}`, res));
      else resolve(res);
    });
  });

  return Object.assign(result, {
    child,
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    hasExited: () => exited,
  });
}
