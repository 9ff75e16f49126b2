// The one waiting helper: values, "not yet", errors, deadlines, file events and dead servers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, WaitError, type Watched } from '../../support/eventually.ts';
import { tempDir } from '../helpers/fixtures.ts';

/** A stand-in for a supervised server; `exit()` makes it die. */
function server(name: string): Watched & { exit(): void } {
  let exit = () => {};
  let dead = false;
  const exited = new Promise<void>((resolve) => (exit = resolve)).then(() => (dead = true));
  return { name, logPath: `/logs/${name}.log`, exited, hasExited: () => dead, logTail: () => `${name}: fatal: out of cheese`, exit: () => exit() };
}

describe('eventually', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(() => dir?.remove());

  it('resolves with the first value that is neither undefined nor false', async () => {
    let calls = 0;
    const value = await eventually('the third call', () => (++calls < 3 ? (calls === 1 ? undefined : false) : { calls }), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('fails at the deadline, naming what it waited for and the last error it tolerated', async () => {
    const failed = eventually('a port that never opens', () => Promise.reject(new Error('ECONNREFUSED')), { timeoutMs: 200, intervalMs: 20, retryErrors: true });
    await expect(failed).rejects.toThrow(WaitError);
    await expect(failed).rejects.toThrow(/timed out after 200 ms waiting for a port that never opens \(last error: ECONNREFUSED\)/);
  });

  it('fails at once on an error unless told to retry', async () => {
    let calls = 0;
    await expect(eventually('anything', () => {
      calls++;
      throw new Error('kubectl exited with 1');
    })).rejects.toThrow('kubectl exited with 1');
    expect(calls).toBe(1);
  });

  it('does not wait past its deadline for a check that hangs', async () => {
    const started = Date.now();
    await expect(eventually('a hung server', () => new Promise<never>(() => {}), { timeoutMs: 200 })).rejects.toThrow(/the last check had not returned/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails at once, with the log tail, when a watched server dies during the wait', async () => {
    const etcd = server('etcd');
    const started = Date.now();
    const waiting = eventually('etcd /health', () => undefined, { watch: [etcd], timeoutMs: 60_000, intervalMs: 60_000 });
    setTimeout(() => etcd.exit(), 50);
    await expect(waiting).rejects.toThrow(/etcd exited while waiting for etcd \/health\. Log \/logs\/etcd\.log:\netcd: fatal: out of cheese/);
    // The interval is a minute: only the exit event can have ended the wait this soon.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('checks again as soon as a watched file changes', async () => {
    dir = tempDir('pullgate-eventually-');
    const file = join(dir.path, 'server.log');
    writeFileSync(file, '');
    const started = Date.now();
    const waiting = eventually('the line in the log', () => readFileSync(file, 'utf8').includes('serving'), { files: [file], timeoutMs: 60_000, intervalMs: 60_000 });
    setTimeout(() => writeFileSync(file, 'pullgate serving\n'), 50);
    await expect(waiting).resolves.toBe(true);
    // The interval is a minute: only the file event can have ended the wait this soon.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('takes a number as the timeout', async () => {
    await expect(eventually('never', () => false, 100)).rejects.toThrow(/timed out after 100 ms waiting for never/);
  });
});
