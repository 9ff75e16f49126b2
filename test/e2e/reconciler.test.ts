// The pull secret is kept, not requested: namespaces get it when they enter scope, hand edits are
// repaired, a review outside scope creates nothing, and admitting Pods in a namespace whose secret
// is current costs no API request — counted from the API server's own audit log.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readAuditEvents, auditMark } from '../support/audit.ts';
import { eventually } from '../support/eventually.ts';
import { pod, review } from '../support/reviews.ts';
import { postReview } from '../support/http.ts';
import { e2e, unavailable } from './support/env.ts';
import { sample, scrapeMetrics } from './support/metrics.ts';
import { licenseIn, pullSecret } from './support/pull-secrets.ts';
import { startPullgateInCluster } from './support/pullgate-in-cluster.ts';
import { APP_NAMESPACE, configYaml, LICENSE_ID, OPT_IN_LABEL, OWN_NAMESPACE, SECRET_NAME, proxied } from './support/scenario.ts';
import { waitForScope } from './support/scope.ts';

const PULLGATE_USER = `system:serviceaccount:${OWN_NAMESPACE}:pullgate`;
const [OPT_IN_KEY, OPT_IN_VALUE] = OPT_IN_LABEL.split('=') as [string, string];
const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** Resolves with the milliseconds from `since` until `check` holds (polled every 50 ms). */
async function timeUntil(what: string, since: number, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  await eventually(what, async () => (await check()) || undefined, { timeoutMs, intervalMs: 50 });
  return Date.now() - since;
}

describe.skipIf(unavailable)('the pull secret reconciler', () => {
  it('gives a namespace labelled into scope its secret within 5 s, with no Pod; one labelled out keeps it, no longer maintained', async () => {
    const { client } = e2e();
    const ns = unique('opt-in-later');
    await client.kubectl(['create', 'namespace', ns]);
    const labelled = Date.now();
    await client.kubectl(['label', 'namespace', ns, OPT_IN_LABEL]);
    const latency = await timeUntil(`secret in ${ns}`, labelled, async () => licenseIn(await pullSecret(client, ns)) === LICENSE_ID);
    console.log(`[figure] opt-in label → pull secret present: ${latency} ms`);
    expect(latency).toBeLessThan(5_000);

    // Out of scope again: kept (Pods created meanwhile reference it), and no longer maintained.
    await client.kubectl(['label', 'namespace', ns, `${OPT_IN_KEY}-`]);
    await waitForScope(ns, false);
    const tampered = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: 'dGFtcGVyZWQ=' } } })).toString('base64');
    const tamper = (namespace: string) => client.kubectl(['patch', 'secret', SECRET_NAME, '-n', namespace, '--type=merge', '-p', JSON.stringify({ data: { '.dockerconfigjson': tampered } })]);
    await tamper(ns);
    await tamper(APP_NAMESPACE);
    // The application namespace is repaired; by then the other one's change has long been seen.
    await eventually('the application namespace repaired', async () => licenseIn(await pullSecret(client, APP_NAMESPACE)) === LICENSE_ID || undefined, 15_000);
    const kept = await pullSecret(client, ns);
    expect(kept, 'kept').toBeDefined();
    expect(kept!.data!['.dockerconfigjson'], 'not maintained').toBe(tampered);
  });

  it('puts back a secret deleted by hand within 5 s, and repairs one edited by hand', async () => {
    const { client } = e2e();
    const before = await pullSecret(client, APP_NAMESPACE);
    expect(licenseIn(before)).toBe(LICENSE_ID);
    const deleted = Date.now();
    await client.kubectl(['delete', 'secret', SECRET_NAME, '-n', APP_NAMESPACE]);
    const latency = await timeUntil('the deleted secret back', deleted, async () => {
      const now = await pullSecret(client, APP_NAMESPACE);
      return now !== undefined && now.metadata.uid !== before!.metadata.uid && licenseIn(now) === LICENSE_ID;
    });
    console.log(`[figure] pull secret deleted by hand → back: ${latency} ms`);
    expect(latency).toBeLessThan(5_000);

    const edited = Date.now();
    await client.kubectl(['patch', 'secret', SECRET_NAME, '-n', APP_NAMESPACE, '--type=merge', '-p', JSON.stringify({ stringData: { '.dockerconfigjson': '{"auths":{}}' } })]);
    const repaired = await timeUntil('the edited secret repaired', edited, async () => licenseIn(await pullSecret(client, APP_NAMESPACE)) === LICENSE_ID);
    console.log(`[figure] pull secret edited by hand → repaired: ${repaired} ms`);
    expect(repaired).toBeLessThan(5_000);
  });

  it('answers a review posted straight to /mutate for a namespace out of scope unchanged, creates nothing there, and counts it', async () => {
    const { client, env } = e2e();
    const { port, ca, metricsPort } = env.pullgate!;
    const stranger = unique('stranger');
    await client.kubectl(['create', 'namespace', stranger]);
    const before = sample(await scrapeMetrics(metricsPort), 'pullgate_admission_requests_total{operation="CREATE",decision="out-of-scope"}');
    for (const namespace of [stranger, 'kube-system', OWN_NAMESPACE, unique('no-such-namespace')]) {
      const body = review(pod('intruder', [{ name: 'c', image: 'quay.io/acme/app:1' }], { namespace }), { namespace });
      const answer = await postReview(port, ca, body);
      expect(answer.status).toBe(200);
      expect(answer.json().response, namespace).toEqual({ uid: body.request.uid, allowed: true });
      expect(await pullSecret(client, namespace), `no secret in ${namespace}`).toBeUndefined();
    }
    const after = sample(await scrapeMetrics(metricsPort), 'pullgate_admission_requests_total{operation="CREATE",decision="out-of-scope"}');
    expect(after - before).toBe(4);
  });

  it('makes no request for the pull secret on a dry run; the same review for real does', async () => {
    const { client, env } = e2e();
    const auditLog = env.cluster!.auditLogPath!;
    // A replica that does not hold the Lease (the shared one does), serving every namespace by
    // name: its only secret requests are those admission makes.
    const replica = await startPullgateInCluster(env.cluster!, client, {
      name: 'dry-run',
      licensePath: env.pullgate!.licensePath,
      configYaml: (license) => configYaml(license).replace(/additional: \[[^\]]*\]/, 'additional: ["*"]').replace(/\n  application: .*\n/, '\n'),
    });
    try {
      const ns = unique('dry-run-target');
      const request = (dryRun: boolean) => review(pod('p', [{ name: 'c', image: 'quay.io/acme/app:1' }], { namespace: ns }), { namespace: ns, dryRun });
      const mark = auditMark(auditLog);
      const dry = (await postReview(replica.port, replica.ca, request(true))).json().response;
      expect(dry.patchType).toBe('JSONPatch');
      expect(dry.warnings).toBeUndefined();
      expect(readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'secrets', namespace: ns, since: mark })).toEqual([]);
      // The control: for real, admission asks to create it (refused here: the namespace does not exist).
      const real = (await postReview(replica.port, replica.ca, request(false))).json().response;
      expect(real.warnings).toEqual([expect.stringContaining('could not ensure pull secret')]);
      expect(readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'secrets', namespace: ns, since: mark }).map((e) => e.verb)).toEqual(['create']);
    } finally {
      await replica.stop();
    }
  });

  it('admits a burst of 300 Pods in a namespace holding its secret with no pull secret request to the API server', async () => {
    const { client, env } = e2e();
    const auditLog = env.cluster!.auditLogPath!;
    const ns = unique('burst');
    await client.kubectl(['apply', '-f', '-'], { input: stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [OPT_IN_KEY]: OPT_IN_VALUE } } }) });
    await eventually(`secret in ${ns}`, async () => (await pullSecret(client, ns)) !== undefined || undefined, 15_000);
    // Until pullgate's watch has delivered the new secret, a Pod could still find none in its cache:
    // probe (a review posted straight to pullgate) until one costs no request at all.
    await eventually('pullgate to know the secret from its watch', async () => {
      const mark = auditMark(auditLog);
      const answer = await postReview(env.pullgate!.port, env.pullgate!.ca, review(pod('probe', [{ name: 'c', image: 'quay.io/acme/app:1' }], { namespace: ns }), { namespace: ns }));
      expect(answer.json().response.warnings).toBeUndefined();
      return readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'secrets', since: mark }).length === 0 || undefined;
    }, 30_000);

    const mark = auditMark(auditLog);
    const pods = Array.from({ length: 300 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `burst-${i}`, namespace: ns },
      spec: { containers: [{ name: 'app', image: 'quay.io/acme/app:1' }, { name: 'proxy', image: 'nginx:1.27' }] },
    }));
    const started = Date.now();
    const out = await client.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }), timeoutMs: 300_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(out.stderr).not.toMatch(/warning/i);

    const secretRequests = readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'secrets', since: mark });
    const namespaceReads = readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'namespaces', verb: 'get', since: mark });
    console.log(`[figure] burst of 300 Pods in ${seconds.toFixed(1)} s: ${secretRequests.length} pull secret requests, ${namespaceReads.length} namespace reads by pullgate`);
    expect(secretRequests.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    expect(namespaceReads).toEqual([]);
    const stored = JSON.parse((await client.kubectl(['get', 'pods', '-n', ns, '-o', 'json'])).stdout) as { items: Array<{ spec: { containers: Array<{ image: string }>; imagePullSecrets?: Array<{ name: string }> } }> };
    expect(stored.items).toHaveLength(300);
    for (const p of stored.items) {
      expect(p.spec.containers.map((c) => c.image)).toEqual([proxied('quay.io/acme/app:1'), 'nginx:1.27']);
      expect(p.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);
    }
    await client.kubectl(['delete', 'namespace', ns, '--wait=false']);
  }, 600_000);
});
