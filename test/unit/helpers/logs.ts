// pino output captured in memory: every line as text and as parsed JSON.
import { createLogger, type Logger } from '../../../src/logger.ts';

export interface CapturedLogs {
  logger: Logger;
  lines: string[];
  records(): Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => lines.join('') };
}
