// Reading the test API server's audit log (startCluster({ audit })): which requests who made, so a
// test can count the API calls pullgate made during a burst of admissions. The log is JSON lines,
// one audit.k8s.io/v1 Event per line, written before each response is sent (blocking mode).
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** The fields of an audit.k8s.io/v1 Event the tests use (level Metadata carries no bodies). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus?: { code?: number; reason?: string };
  /** RFC 3339 with microseconds. */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/**
 * Where to start counting: a byte offset into the log (exact; take it with auditMark() before the
 * requests of interest) or a time (requests received at or after it; millisecond precision).
 */
export type AuditMark = number | Date;

export interface AuditFilter {
  /** Exact user name, e.g. 'system:serviceaccount:pullgate:pullgate'. */
  user?: string;
  verb?: string | readonly string[];
  /** objectRef.resource, e.g. 'secrets' (plural, lower case, as in the URL). */
  resource?: string;
  namespace?: string;
  name?: string;
  since?: AuditMark;
}

/** The current end of the log: requests made after this call are read with `since: mark`. */
export function auditMark(path: string): number {
  return statSync(path).size;
}

/**
 * Parses audit log text into the events of stage ResponseComplete (one per finished request).
 * Only whole lines count: the last line may still be being written.
 */
export function parseAuditLog(text: string): AuditEvent[] {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line still being written
  const events: AuditEvent[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch (err) {
      throw new Error(`audit log line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (event.stage === 'ResponseComplete') events.push(event);
  });
  return events;
}

/** Whether `event` passes every filter given (a `since` byte offset is applied when reading). */
export function matchesAudit(event: AuditEvent, filter: AuditFilter): boolean {
  if (filter.user !== undefined && event.user.username !== filter.user) return false;
  if (filter.verb !== undefined) {
    const verbs = typeof filter.verb === 'string' ? [filter.verb] : filter.verb;
    if (!verbs.includes(event.verb)) return false;
  }
  if (filter.resource !== undefined && event.objectRef?.resource !== filter.resource) return false;
  if (filter.namespace !== undefined && event.objectRef?.namespace !== filter.namespace) return false;
  if (filter.name !== undefined && event.objectRef?.name !== filter.name) return false;
  if (filter.since instanceof Date && Date.parse(event.requestReceivedTimestamp) < filter.since.getTime()) return false;
  return true;
}

/** The log's text from byte `offset` on, starting at a line boundary. */
function readFrom(path: string, offset: number): string {
  const fd = openSync(path, 'r');
  try {
    // A mark taken while a line was being appended falls inside it: that line started before the
    // mark and is skipped.
    const start = Math.max(0, offset - 1);
    const size = fstatSync(fd).size;
    if (size <= start) return '';
    const buffer = Buffer.alloc(size - start);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    const text = buffer.subarray(0, read).toString('utf8');
    if (offset === 0) return text;
    const firstNewline = text.indexOf('\n');
    return firstNewline === -1 ? '' : text.slice(firstNewline + 1);
  } finally {
    closeSync(fd);
  }
}

/** The finished requests (stage ResponseComplete) in the audit log at `path` that match `filter`. */
export function readAuditEvents(path: string, filter: AuditFilter = {}): AuditEvent[] {
  // A missing log is an error, never "no requests": a count of zero must mean something.
  if (!existsSync(path)) throw new Error(`no audit log at ${path} (was the cluster started with audit?)`);
  const offset = typeof filter.since === 'number' ? filter.since : 0;
  return parseAuditLog(readFrom(path, offset)).filter((e) => matchesAudit(e, filter));
}
