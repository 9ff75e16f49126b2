// The audit log reader on a small log in the API server's JSON-lines format (level Metadata, stage
// RequestReceived omitted as the test clusters' policy does, one watch that also has a
// ResponseStarted event). Proven on a real API server by test/e2e/audit-log.test.ts.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditMark, matchesAudit, parseAuditLog, readAuditEvents } from '../../support/audit.ts';
import { tempDir } from '../helpers/fixtures.ts';

const PULLGATE = 'system:serviceaccount:pullgate:pullgate';
const ADMIN = 'pullgate-e2e-admin';

function event(fields: { id: string; stage?: string; verb: string; user: string; resource: string; namespace?: string; name?: string; at: string; code?: number }): string {
  const path = `/api/v1${fields.namespace ? `/namespaces/${fields.namespace}` : ''}/${fields.resource}${fields.name ? `/${fields.name}` : ''}`;
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: fields.id,
    stage: fields.stage ?? 'ResponseComplete',
    requestURI: path,
    verb: fields.verb,
    user: { username: fields.user, groups: ['system:authenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'node',
    objectRef: { resource: fields.resource, ...(fields.namespace ? { namespace: fields.namespace } : {}), ...(fields.name ? { name: fields.name } : {}), apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: fields.code ?? 200 },
    requestReceivedTimestamp: fields.at,
    stageTimestamp: fields.at.replace(/\.(\d{6})Z$/, (_, us: string) => `.${String(Number(us) + 900).padStart(6, '0')}Z`),
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  });
}

const LINES = [
  event({ id: 'a1', verb: 'get', user: PULLGATE, resource: 'secrets', namespace: 'my-app', name: 'my-app-registry', at: '2026-03-01T10:00:00.100000Z', code: 404 }),
  event({ id: 'a2', verb: 'create', user: PULLGATE, resource: 'secrets', namespace: 'my-app', at: '2026-03-01T10:00:00.200000Z', code: 201 }),
  event({ id: 'a3', verb: 'update', user: 'system:apiserver', resource: 'leases', namespace: 'kube-system', name: 'apiserver-x', at: '2026-03-01T10:00:00.300000Z' }),
  event({ id: 'a4', stage: 'ResponseStarted', verb: 'watch', user: PULLGATE, resource: 'namespaces', at: '2026-03-01T10:00:00.400000Z' }),
  event({ id: 'a4', verb: 'watch', user: PULLGATE, resource: 'namespaces', at: '2026-03-01T10:00:00.400000Z' }),
  event({ id: 'a5', verb: 'get', user: ADMIN, resource: 'secrets', namespace: 'other', name: 'my-app-registry', at: '2026-03-01T10:00:01.500000Z' }),
];
const LOG = `${LINES.join('\n')}\n`;

describe('parseAuditLog', () => {
  it('returns one event per finished request, in log order', () => {
    const events = parseAuditLog(LOG);
    expect(events.map((e) => e.auditID)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(events[0]).toMatchObject({
      verb: 'get',
      user: { username: PULLGATE },
      objectRef: { resource: 'secrets', namespace: 'my-app', name: 'my-app-registry' },
      responseStatus: { code: 404 },
    });
  });

  it('ignores a last line still being written', () => {
    const partial = LINES[5]!.slice(0, 80);
    expect(parseAuditLog(`${LINES[0]}\n${partial}`).map((e) => e.auditID)).toEqual(['a1']);
  });

  it('says which whole line is not JSON', () => {
    expect(() => parseAuditLog(`${LINES[0]}\n{"stage":\n`)).toThrow(/line 2 is not JSON/);
  });
});

describe('matchesAudit', () => {
  const events = parseAuditLog(LOG);
  const ids = (filter: Parameters<typeof matchesAudit>[1]) => events.filter((e) => matchesAudit(e, filter)).map((e) => e.auditID);

  it('filters by user, verb, resource, namespace and name, all of them at once', () => {
    expect(ids({})).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(ids({ user: PULLGATE })).toEqual(['a1', 'a2', 'a4']);
    expect(ids({ verb: 'get' })).toEqual(['a1', 'a5']);
    expect(ids({ verb: ['create', 'update'] })).toEqual(['a2', 'a3']);
    expect(ids({ resource: 'secrets' })).toEqual(['a1', 'a2', 'a5']);
    expect(ids({ namespace: 'my-app' })).toEqual(['a1', 'a2']);
    expect(ids({ name: 'my-app-registry' })).toEqual(['a1', 'a5']);
    expect(ids({ user: PULLGATE, resource: 'secrets', verb: 'create', namespace: 'my-app' })).toEqual(['a2']);
  });

  it('counts from a time: requests received at or after it', () => {
    expect(ids({ since: new Date('2026-03-01T10:00:00.300Z') })).toEqual(['a3', 'a4', 'a5']);
    expect(ids({ since: new Date('2026-03-01T10:00:01.501Z') })).toEqual([]);
  });
});

describe('readAuditEvents', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  beforeEach(() => {
    dir = tempDir('pullgate-audit-');
    path = join(dir.path, 'audit.log');
  });
  afterEach(() => dir.remove());

  it('reads only what was appended after a mark', () => {
    writeFileSync(path, `${LINES.slice(0, 3).join('\n')}\n`);
    const mark = auditMark(path);
    expect(readAuditEvents(path, { since: mark })).toEqual([]);
    appendFileSync(path, `${LINES.slice(3).join('\n')}\n`);
    expect(readAuditEvents(path, { since: mark }).map((e) => e.auditID)).toEqual(['a4', 'a5']);
    expect(readAuditEvents(path, { since: mark, user: ADMIN }).map((e) => e.auditID)).toEqual(['a5']);
    expect(readAuditEvents(path).map((e) => e.auditID)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
  });

  it('skips the line a mark falls into: it was written before the mark', () => {
    writeFileSync(path, LOG);
    const insideA2 = LINES[0]!.length + 1 + 10;
    expect(readAuditEvents(path, { since: insideA2 }).map((e) => e.auditID)).toEqual(['a3', 'a4', 'a5']);
    const startOfA2 = LINES[0]!.length + 1;
    expect(readAuditEvents(path, { since: startOfA2 }).map((e) => e.auditID)).toEqual(['a2', 'a3', 'a4', 'a5']);
  });

  it('fails on a missing log rather than report no requests', () => {
    expect(() => readAuditEvents(join(dir.path, 'none.log'))).toThrow(/no audit log/);
  });
});
