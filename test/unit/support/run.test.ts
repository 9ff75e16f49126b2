// The one way tests start a child process: output, input, exit status, failure and timeout.
import { describe, expect, it } from 'vitest';
import { CommandError, run } from '../../support/run.ts';

const node = (script: string) => [process.execPath, ['-e', script]] as const;

describe('run', () => {
  it('captures stdout and stderr and passes input on stdin', async () => {
    const [file, args] = node("process.stdin.pipe(process.stdout); process.stderr.write('note')");
    const result = await run(file, args, { input: 'hello' });
    expect(result).toEqual({ code: 0, signal: null, stdout: 'hello', stderr: 'note', timedOut: false });
  });

  it('resolves with a failing exit status, or rejects with it when checked', async () => {
    const [file, args] = node("console.error('bad flag'); process.exit(3)");
    expect((await run(file, args)).code).toBe(3);
    const checked = run(file, args, { check: true });
    await expect(checked).rejects.toThrow(CommandError);
    await expect(checked).rejects.toThrow(/exited with 3:\nbad flag/);
  });

  it('kills a command that outlives its timeout and says so', async () => {
    const [file, args] = node('setInterval(() => {}, 1000)');
    const result = await run(file, args, { timeoutMs: 200 });
    expect(result).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
  });

  it('exposes the output of a command still running', async () => {
    const [file, args] = node("console.log('ready'); setInterval(() => {}, 1000)");
    const running = run(file, args);
    await new Promise<void>((resolve) => running.child.stdout!.once('data', () => resolve()));
    expect(running.stdout()).toBe('ready\n');
    expect(running.hasExited()).toBe(false);
    running.child.kill('SIGTERM');
    expect((await running).signal).toBe('SIGTERM');
    expect(running.hasExited()).toBe(true);
  });

  it('rejects when the program does not exist', async () => {
    await expect(run('/nonexistent/program', [])).rejects.toThrow(/ENOENT/);
  });
});
