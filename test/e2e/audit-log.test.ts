// The shared cluster's audit log, read with test/support/audit.ts: what tests count pullgate's API
// requests with. Proven here on requests whose number and verbs are known.
import { describe, expect, it } from 'vitest';
import { auditMark, readAuditEvents } from '../support/audit.ts';
import { e2e, unavailable } from './support/env.ts';
import { OWN_NAMESPACE } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const ADMIN = 'pullgate-e2e-admin';
const PULLGATE = `system:serviceaccount:${OWN_NAMESPACE}:pullgate`;

describe.skipIf(unavailable)('the audit log', () => {
  it('holds exactly the requests made after a mark, with their user, verb and object', async () => {
    const { client, env } = e2e();
    const log = env.cluster!.auditLogPath;
    expect(log, 'the shared cluster is started with audit on').toBeDefined();
    const ns = 'audit-log';
    await client.kubectl(['create', 'namespace', ns]);

    const mark = auditMark(log!);
    const startedAt = new Date();
    await client.kubectl(['create', 'secret', 'generic', 'audited', '-n', ns, '--from-literal=key=value']);
    await client.kubectl(['get', 'secret', 'audited', '-n', ns, '-o', 'name']);

    // Blocking mode: each event is in the log before its response is sent, so no wait is needed.
    const summary = (since: number | Date) =>
      readAuditEvents(log!, { since, user: ADMIN, resource: 'secrets', namespace: ns }).map((e) => ({
        verb: e.verb,
        name: e.objectRef?.name,
        code: e.responseStatus?.code,
      }));
    const expected = [
      { verb: 'create', name: 'audited', code: 201 },
      { verb: 'get', name: 'audited', code: 200 },
    ];
    expect(summary(mark)).toEqual(expected);
    expect(summary(startedAt)).toEqual(expected);
    expect(readAuditEvents(log!, { since: mark, verb: 'get', namespace: ns }).map((e) => e.objectRef?.name)).toEqual(['audited']);

    // The namespace was created before the mark: in the log, but not after the mark.
    const namespaceCreates = (since?: number) => readAuditEvents(log!, { ...(since !== undefined ? { since } : {}), user: ADMIN, resource: 'namespaces', verb: 'create' });
    expect(namespaceCreates().some((e) => e.objectRef?.name === ns)).toBe(true);
    expect(namespaceCreates(mark)).toEqual([]);

    // The policy logs Secrets, Leases and Namespaces only: a ConfigMap request is not there.
    const before = auditMark(log!);
    await client.kubectl(['create', 'configmap', 'not-audited', '-n', ns]);
    expect(readAuditEvents(log!, { since: before, namespace: ns })).toEqual([]);
  });

  it("records pullgate's own requests under its ServiceAccount", async () => {
    const { client, env } = e2e();
    const log = env.cluster!.auditLogPath!;
    const mark = auditMark(log);
    const ns = await createServedNamespace('audit-log-pullgate');
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', namespace: ns }, spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] } };
    await client.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    // pullgate creates the pull secret before it answers the admission of the Pod.
    const creates = readAuditEvents(log, { since: mark, user: PULLGATE, resource: 'secrets', namespace: ns, verb: 'create' });
    expect(creates.map((e) => e.responseStatus?.code)).toContain(201);
    // The user filter tells pullgate from the admin, who touched no Secret here.
    expect(readAuditEvents(log, { since: mark, user: ADMIN, resource: 'secrets', namespace: ns })).toEqual([]);
  });
});
