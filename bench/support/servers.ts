// The processes under test, each started on its own (pinned to a core when asked) with its
// output in a log file, and what the benchmark reads of them: CPU time and resident memory.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../test/support/eventually.ts';
import { run, type Running } from '../../test/support/run.ts';

export interface Server {
  name: string;
  port: number;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** `taskset -c <core>` in front of a command when a core is given. */
export function pinned(core: number | undefined, command: string, args: string[]): [string, string[]] {
  return core === undefined ? [command, args] : ['taskset', ['-c', String(core), command, ...args]];
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  dir: string;
  core?: number;
  env?: NodeJS.ProcessEnv;
  /** A memory cgroup (v1 or v2 directory) the process is started in. */
  cgroup?: string;
}

export async function startServer(options: StartOptions): Promise<Server> {
  const logPath = join(options.dir, `${options.name.replace(/\W+/g, '-')}.log`);
  const [command, args] = pinned(options.core, options.command, options.args);
  // In a cgroup: the shell moves itself in, then becomes the server (same pid).
  const started: Running = options.cgroup
    ? run('sh', ['-c', `echo $$ > "$0/cgroup.procs" && exec "$@"`, options.cgroup, command, ...args], { logPath, timeoutMs: Infinity, env: options.env })
    : run(command, args, { logPath, timeoutMs: Infinity, env: options.env });
  const watched = {
    name: options.name,
    logPath,
    exited: started,
    hasExited: () => started.hasExited(),
    logTail: () => readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n'),
  };
  await eventually(`${options.name} listening on ${options.port}`, () => accepts(options.port), { timeoutMs: 60_000, watch: [watched] });
  return {
    name: options.name,
    port: options.port,
    pid: started.pid!,
    logPath,
    async stop() {
      if (started.hasExited()) return;
      started.child.kill('SIGTERM');
      const killer = setTimeout(() => started.child.kill('SIGKILL'), 10_000);
      await started;
      clearTimeout(killer);
    },
  };
}

/** CPU seconds (user + system) the process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime and stime are the 12th and 13th fields after the command name, in clock ticks (100 Hz on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set size in MiB. */
export function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * A memory cgroup limited to `bytes`, as a container's, when this process may create one (root
 * with cgroup v2, or v1's memory controller); undefined otherwise.
 */
export function memoryCgroup(name: string, bytes: number): { path: string; remove(): void } | undefined {
  const candidates = [
    { path: join('/sys/fs/cgroup', name), limitFile: 'memory.max', marker: '/sys/fs/cgroup/cgroup.controllers' },
    { path: join('/sys/fs/cgroup/memory', name), limitFile: 'memory.limit_in_bytes', marker: '/sys/fs/cgroup/memory/memory.limit_in_bytes' },
  ];
  for (const c of candidates) {
    try {
      readFileSync(c.marker);
      mkdirSync(c.path);
      writeFileSync(join(c.path, c.limitFile), String(bytes));
      return {
        path: c.path,
        remove: () => {
          try {
            rmdirSync(c.path);
          } catch {
            // Still holds a process being reaped; the kernel removes it with the last one.
          }
        },
      };
    } catch {
      // Not this kind, or not allowed: try the next.
    }
  }
  return undefined;
}
