import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { logRedactPaths, REDACTED } from './util/redact.ts';

export type { Logger };

/**
 * JSON logs. Admission data is logged by field, never as whole objects; the credential-bearing
 * fields defined in util/redact.ts are masked as a second line of defence should such an object
 * reach a log call.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const settings: LoggerOptions = {
    level: options.level ?? 'info',
    base: { app: 'pullgate' },
    redact: { paths: logRedactPaths(), censor: REDACTED },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
