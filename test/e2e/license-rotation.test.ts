// A license rotation with two pullgate replicas running, as a Deployment has them: every managed
// secret follows the new license within seconds, without a Pod, and the replicas do not fight
// over it — at most one write per secret, counted from the API server's audit log.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { auditMark, readAuditEvents } from '../support/audit.ts';
import { eventually } from '../support/eventually.ts';
import { e2e, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { authFor, licenseIn, pullSecrets } from './support/pull-secrets.ts';
import { logEntries, logMark } from './support/pullgate-log.ts';
import { LICENSE_ID, OPT_IN_LABEL, OWN_NAMESPACE } from './support/scenario.ts';

const PULLGATE_USER = `system:serviceaccount:${OWN_NAMESPACE}:pullgate`;
const [OPT_IN_KEY, OPT_IN_VALUE] = OPT_IN_LABEL.split('=') as [string, string];
const NAMESPACES = 24;

/** Replaces a file in one step, as the kubelet's `..data` swap does: no reader sees it half written. */
function replaceFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Waits for a 'license reloaded' line written to `logPath` after byte `offset`. */
function reloadedSince(logPath: string, offset: number) {
  return eventually(`"license reloaded" in ${logPath}`, () => {
    return logEntries(logPath, offset).some((e) => e.msg === 'license reloaded') || undefined;
  }, { timeoutMs: 15_000, files: [logPath] });
}

describe.skipIf(unavailable)('license rotation with two replicas', () => {
  let second: PullgateInstance | undefined;
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `rotation-${randomBytes(2).toString('hex')}-${i}`);

  beforeAll(async () => {
    const { client, env } = e2e();
    // The second replica reads the same license file, like a second Pod mounting the same Secret.
    second = await startPullgateInCluster(env.cluster!, client, { name: 'replica-b', licensePath: env.pullgate!.licensePath });
    const docs = namespaces.map((name) => stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [OPT_IN_KEY]: OPT_IN_VALUE } } }));
    await client.kubectl(['apply', '-f', '-'], { input: docs.join('---\n') });
    await eventually(`pull secrets in ${NAMESPACES} new namespaces`, async () => {
      const secrets = await pullSecrets(client);
      return namespaces.every((ns) => licenseIn(secrets.get(ns)) === LICENSE_ID) || undefined;
    }, 30_000);
  }, 120_000);

  afterAll(async () => {
    await second?.stop();
    const { client } = e2e();
    await client.kubectl(['delete', 'namespace', ...namespaces, '--wait=false'], { allowFailure: true });
  });

  it('moves every managed secret to the new license within 10 s, one write each, and back', async () => {
    const { client, env } = e2e();
    const { licensePath, logPath } = env.pullgate!;
    const auditLog = env.cluster!.auditLogPath!;
    const original = readFileSync(licensePath, 'utf8');
    const rotatedId = `e2e-rotated-${randomBytes(8).toString('hex')}`;

    /** Rewrites the license, waits for both replicas to reload it and every secret to follow; returns the ms it took. */
    const rotateTo = async (text: string, id: string) => {
      const offsets = [logMark(logPath), logMark(second!.logPath)];
      const mark = auditMark(auditLog);
      const started = Date.now();
      replaceFile(licensePath, text);
      await eventually(`every pull secret on license ${id === LICENSE_ID ? 'original' : 'rotated'}`, async () => {
        const secrets = await pullSecrets(client);
        return namespaces.every((ns) => licenseIn(secrets.get(ns)) === id) || undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      const elapsed = Date.now() - started;
      await reloadedSince(logPath, offsets[0]!);
      await reloadedSince(second!.logPath, offsets[1]!);
      const writes = readAuditEvents(auditLog, { user: PULLGATE_USER, resource: 'secrets', verb: ['create', 'update', 'patch', 'delete'], since: mark }).filter((e) =>
        namespaces.includes(e.objectRef?.namespace ?? ''),
      );
      return { elapsed, writes };
    };

    let rotated = false;
    try {
      const forward = await rotateTo(original.replace(`licenseID: ${LICENSE_ID}\n`, `licenseID: ${rotatedId}\n`), rotatedId);
      rotated = true;
      const perNamespace = new Map<string, string[]>();
      for (const e of forward.writes) perNamespace.set(e.objectRef!.namespace!, [...(perNamespace.get(e.objectRef!.namespace!) ?? []), `${e.verb} ${e.responseStatus?.code}`]);
      console.log(`[figure] license rotation, two replicas, ${NAMESPACES} namespaces: all secrets updated in ${forward.elapsed} ms with ${forward.writes.length} writes`);
      expect(forward.elapsed).toBeLessThan(10_000);
      // A 409 (a write refused because the cache was behind) changes nothing; successful writes must be one per secret.
      for (const ns of namespaces) expect((perNamespace.get(ns) ?? []).filter((w) => !w.endsWith(' 409')), ns).toEqual(['update 200']);
    } finally {
      // Whatever happened, the next file runs on the original license.
      const back = await rotateTo(original, LICENSE_ID);
      if (rotated) expect(back.writes.filter((e) => e.responseStatus?.code !== 409)).toHaveLength(NAMESPACES);
    }

    const logs = readFileSync(logPath, 'utf8') + readFileSync(second!.logPath, 'utf8');
    for (const secret of [rotatedId, authFor(rotatedId), LICENSE_ID, authFor(LICENSE_ID)]) expect(logs).not.toContain(secret);
  }, 180_000);
});
