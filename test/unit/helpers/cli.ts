// Runs the CLI as it ships: `node dist/main.js`, built from src first when dist is missing or
// older than any source file (the README's test command builds before vitest; this covers a
// plain `vitest run`).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../../support/run.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ with the project's own TypeScript when it is missing or stale. */
export function ensureBuilt(): void {
  const newest = newestMtime(join(ROOT, 'src'));
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newest) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // Type errors are the typecheck's business; tsc still emits, and the CLI is what is tested here.
    if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest) {
      throw new Error(`building dist/ failed:\n${String((err as { stdout?: Buffer }).stdout ?? err)}`);
    }
  }
}

export type CliResult = RunResult;

export interface CliOptions {
  stdin?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Kill after this many ms (for commands that would keep running, like a successful serve). */
  timeoutMs?: number;
}

/** Runs `pullgate <args>` with the current Node binary (Node 24). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return run(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    input: options.stdin ?? '',
    timeoutMs: options.timeoutMs ?? 20_000,
  });
}
