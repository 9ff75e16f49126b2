import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { logRedactPaths, REDACTED } from './util/redact.ts';

export type { Logger };

/** The plain sibling of each logger createLogger made: same output, no redaction. */
const plainSiblings = new WeakMap<Logger, Logger>();

/**
 * JSON logs. Admission data is logged by field, never as whole objects; the credential-bearing
 * fields defined in util/redact.ts are masked as a second line of defence should such an object
 * reach a log call.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const base: LoggerOptions = { level: options.level ?? 'info', base: { app: 'pullgate' } };
  const settings: LoggerOptions = { ...base, redact: { paths: logRedactPaths(), censor: REDACTED } };
  const logger = options.destination ? pino(settings, options.destination) : pino(settings);
  // The sibling writes to the very stream pino chose, so lines stay in order.
  plainSiblings.set(logger, pino(base, (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]));
  return logger;
}

/**
 * The same log without the redaction pass, for the one line per admission: its fields are chosen
 * one by one and hold no credential (images are shown without user info, errors are masked where
 * they are made), so walking every line for credential-bearing keys would only cost CPU. A logger
 * createLogger did not make is returned as it is.
 */
export function unredacted(logger: Logger): Logger {
  return plainSiblings.get(logger) ?? logger;
}
