// pullgate's JSON log, read as its operators would: one object per line.
import { readFileSync, statSync } from 'node:fs';

export type LogEntry = Record<string, any>;

/** The current end of the log: entries written after this call are read with `since: mark`. */
export function logMark(logPath: string): number {
  return statSync(logPath).size;
}

/** The whole JSON lines of a pullgate log from byte `since` on (the last line may still be being written). */
export function logEntries(logPath: string, since = 0): LogEntry[] {
  return readFileSync(logPath)
    .subarray(since)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogEntry];
      } catch {
        return [];
      }
    });
}
