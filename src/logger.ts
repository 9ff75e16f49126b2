import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * JSON logs. Admission data is logged by field, never as whole objects, and these paths are
 * redacted as a second line of defence should a credential-bearing object reach a log call.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const settings: LoggerOptions = {
    level: options.level ?? 'info',
    base: { app: 'pullgate' },
    redact: {
      paths: ['licenseID', '*.licenseID', 'data', '*.data', 'auth', '*.auth', '["\\.dockerconfigjson"]', '*["\\.dockerconfigjson"]'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
