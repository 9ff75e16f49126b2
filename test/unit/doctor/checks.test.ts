import { X509Certificate } from 'node:crypto';
import type { V1MatchCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS, exitCodeOf, overallStatus, type CheckResult } from '../../../src/doctor/check.ts';
import { checkCaBundle } from '../../../src/doctor/checks/ca-bundle.ts';
import { checkInstallGuard } from '../../../src/doctor/checks/install-guard.ts';
import { checkLicense } from '../../../src/doctor/checks/license.ts';
import { checkProbe } from '../../../src/doctor/checks/probe.ts';
import { checkPullSecrets } from '../../../src/doctor/checks/pull-secrets.ts';
import { checkServingCertificate } from '../../../src/doctor/checks/serving-certificate.ts';
import { canonical, checkWebhookConfiguration } from '../../../src/doctor/checks/webhook-configuration.ts';
import { evaluate } from '../../../src/doctor/evaluate.ts';
import type { PullSecretState } from '../../../src/doctor/facts.ts';
import { acceptableMatchConditions } from '../../../src/k8s/webhook-match-conditions.ts';
import { LICENSE_ID } from '../helpers/fixtures.ts';
import { admitted, healthyFacts, installation, liveWebhook, NOW, pki, REWRITTEN_PROBE } from './facts-fixture.ts';

const DAY = 24 * 3600_000;
const byId = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.id, r]));

describe('doctor checks, from gathered facts', () => {
  it('finds nothing wrong with a healthy installation', () => {
    const results = evaluate(healthyFacts());
    expect(results.map((r) => [r.id, r.status])).toEqual(CHECK_IDS.map((id) => [id, 'ok']));
    expect(results.every((r) => r.fix === undefined)).toBe(true);
    expect(exitCodeOf(results)).toBe(0);
  });

  describe('install guard', () => {
    const guard = { metadata: { name: 'acme-pullgate-install' }, webhooks: [] };

    it('warns while it exists: pullgate never served; says how to find out why, and how to remove one an uninstall left', () => {
      const found = checkInstallGuard({ name: 'acme-pullgate-install', configured: true, live: guard }, 'acme-system');
      expect(found).toMatchObject({ id: 'install-guard', status: 'warn', summary: expect.stringContaining('pullgate has not served since it was installed') });
      expect(found.fix).toContain('kubectl -n acme-system get pods');
      expect(found.fix).toContain('kubectl delete mutatingwebhookconfiguration acme-pullgate-install');
      // As the facts a gathering hands over: a warning, not a failure.
      const results = evaluate(healthyFacts({ installGuard: { name: 'acme-pullgate-install', configured: true, live: guard } }));
      expect(byId(results)['install-guard']!.status).toBe('warn');
      expect(exitCodeOf(results)).toBe(0);
    });

    it('is content when it is gone, or was never configured; warns when it cannot be read', () => {
      expect(checkInstallGuard({ name: 'pullgate-install', configured: true, live: null }, 'pullgate')).toMatchObject({ status: 'ok', summary: expect.stringContaining('gone: pullgate has served') });
      expect(checkInstallGuard({ name: 'pullgate-install', configured: false, live: null }, 'pullgate')).toMatchObject({ status: 'ok', summary: 'no install guard' });
      expect(checkInstallGuard({ name: 'pullgate-install', configured: true, live: undefined, readError: 'HTTP 403 (Forbidden)' }, 'pullgate')).toMatchObject({ status: 'warn', details: ['HTTP 403 (Forbidden)'] });
    });
  });

  describe('webhook configuration', () => {
    const expected = () => {
      const e = liveWebhook();
      return e;
    };

    it('fails when it does not exist, or cannot be read', () => {
      expect(checkWebhookConfiguration({ name: 'pullgate', live: null }, expected())).toMatchObject({ status: 'fail', summary: expect.stringContaining('does not exist') });
      expect(checkWebhookConfiguration({ name: 'pullgate', live: undefined, readError: 'HTTP 403 (Forbidden)' }, expected())).toMatchObject({ status: 'fail', details: ['HTTP 403 (Forbidden)'] });
    });

    it('names the webhook and field whose selector differs from the configuration', () => {
      const live = liveWebhook();
      live.webhooks![0]!.namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['elsewhere'] }] };
      const r = checkWebhookConfiguration({ name: 'pullgate', live }, expected());
      expect(r.status).toBe('fail');
      expect(r.details).toEqual([expect.stringMatching(/^webhook pods\.pullgate\.dev: namespaceSelector is .*elsewhere.*, the configuration gives .*my-app/)]);
      expect(r.fix).toContain('helm upgrade');
    });

    it('compares match conditions as data: order aside, equal ones pass, any other fails', () => {
      const conditions = [
        { name: 'private-image', expression: 'object.spec.containers.exists(c, c.image.startsWith("quay.io/acme/"))' },
        { name: 'not-deleted', expression: '!has(object.metadata.deletionTimestamp)' },
      ];
      const want = expected();
      for (const hook of want.webhooks!) hook.matchConditions = conditions;
      const live = liveWebhook();
      for (const hook of live.webhooks!) hook.matchConditions = [...conditions].reverse();
      expect(checkWebhookConfiguration({ name: 'pullgate', live }, want).status).toBe('ok');

      live.webhooks![1]!.matchConditions = [conditions[0]!];
      const r = checkWebhookConfiguration({ name: 'pullgate', live }, want);
      expect(r.status).toBe('fail');
      expect(r.details).toEqual([expect.stringContaining('webhook opt-in.pods.pullgate.dev: matchConditions is')]);
      // Conditions the rendering does not give filter Pods the configuration says are served.
      expect(checkWebhookConfiguration({ name: 'pullgate', live }, expected()).status).toBe('fail');
    });

    it('accepts either rendering of the match condition when the proxy domain comes from the license, and no other', () => {
      const inst = installation();
      const { proxyDomain: _set, ...config } = inst.config;
      const licensed = { ...inst, config, licenseProxyDomains: ['proxy.example.com', 'proxy.replicated.com'] };
      const [known, broad] = acceptableMatchConditions(config, licensed.licenseProxyDomains);
      expect(known).not.toEqual(broad);
      const withConditions = (conditions: V1MatchCondition[] | undefined) => {
        const live = liveWebhook();
        for (const hook of live.webhooks!) hook.matchConditions = conditions;
        return byId(evaluate(healthyFacts({ installation: licensed, webhook: { name: 'pullgate', live } })))['webhook-configuration']!;
      };
      expect(withConditions(known).status).toBe('ok');
      expect(withConditions(broad).status).toBe('ok');
      const none = withConditions(undefined);
      expect(none.status).toBe('fail');
      expect(none.details).toEqual(expect.arrayContaining([expect.stringContaining('matchConditions is null')]));
    });

    it('fails on a missing webhook and warns about one the configuration does not give', () => {
      const missing = liveWebhook();
      missing.webhooks = missing.webhooks!.slice(0, 1);
      expect(checkWebhookConfiguration({ name: 'pullgate', live: missing }, expected())).toMatchObject({ status: 'fail', details: [expect.stringContaining('opt-in.pods.pullgate.dev is missing')] });
      const extra = liveWebhook();
      extra.webhooks!.push({ ...extra.webhooks![0]!, name: 'old.pods.pullgate.dev' });
      expect(checkWebhookConfiguration({ name: 'pullgate', live: extra }, expected())).toMatchObject({ status: 'warn', details: ['webhook old.pods.pullgate.dev is not one the configuration gives'] });
    });

    it('reads absent, null and empty the same, keys and set order aside', () => {
      expect(canonical({ b: [2, 1], a: { x: null, y: [] }, c: {} })).toEqual({ b: [1, 2] });
      expect(canonical([{ z: 1, a: 2 }])).toEqual([{ a: 2, z: 1 }]);
      expect(canonical([])).toBeUndefined();
    });
  });

  describe('caBundle', () => {
    const serving = () => healthyFacts().servingCertificate;

    it('fails naming the webhook when its caBundle is another CA, absent, or no certificate', () => {
      const wrong = checkCaBundle({ name: 'pullgate', live: liveWebhook(pki().otherCa.certPem) }, serving(), NOW);
      expect(wrong.status).toBe('fail');
      expect(wrong.details[0]).toMatch(/^webhook pods\.pullgate\.dev: caBundle \("some-other-ca".*\) does not verify the serving certificate/);
      expect(wrong.details[0]).toContain('issued by "CN=pullgate-webhook-ca');

      const none = liveWebhook();
      delete none.webhooks![0]!.clientConfig.caBundle;
      expect(checkCaBundle({ name: 'pullgate', live: none }, serving(), NOW).details).toEqual([expect.stringContaining('pods.pullgate.dev has no caBundle')]);

      const garbage = liveWebhook();
      garbage.webhooks![0]!.clientConfig.caBundle = Buffer.from('not a certificate').toString('base64');
      expect(checkCaBundle({ name: 'pullgate', live: garbage }, serving(), NOW).details).toEqual([expect.stringContaining('holds no readable PEM certificate')]);
    });

    it('fails when the CA that verifies it has expired', () => {
      const r = checkCaBundle({ name: 'pullgate', live: liveWebhook() }, serving(), new Date(NOW.getTime() + 100 * DAY));
      expect(r.status).toBe('fail');
      expect(r.details[0]).toContain('expired at');
    });

    it('warns that it could not verify when the serving certificate was not found, and when nothing is installed', () => {
      const r = checkCaBundle({ name: 'pullgate', live: liveWebhook() }, { source: 'Secret pullgate/pullgate-tls', error: 'Secret pullgate/pullgate-tls does not exist' }, NOW);
      expect(r.status).toBe('warn');
      expect(r.summary).toContain('not verified');
      expect(r.details[0]).toContain('"pullgate-webhook-ca"');
      expect(checkCaBundle({ name: 'pullgate', live: null }, serving(), NOW).status).toBe('warn');
    });
  });

  describe('serving certificate', () => {
    it('fails when expired or issued for another host; warns near its expiry', () => {
      const facts = healthyFacts().servingCertificate;
      expect(checkServingCertificate(facts, new Date(NOW.getTime() + 100 * DAY))).toMatchObject({ status: 'fail', summary: expect.stringContaining('expired at') });
      const notAfter = new X509Certificate(pki().servingPem).validTo;
      expect(checkServingCertificate(facts, new Date(Date.parse(notAfter) - 1.5 * DAY))).toMatchObject({ status: 'warn', summary: expect.stringContaining('in 1 day(s)') });
      expect(checkServingCertificate({ ...facts, host: 'other.pullgate.svc' }, NOW)).toMatchObject({ status: 'fail', summary: expect.stringContaining('not valid for other.pullgate.svc') });
      expect(checkServingCertificate({ ...facts, host: '127.0.0.1' }, NOW).status).toBe('ok');
      expect(checkServingCertificate({ source: 'the TLS handshake with 127.0.0.1:1', error: 'ECONNREFUSED' }, NOW)).toMatchObject({ status: 'warn', summary: expect.stringContaining('ECONNREFUSED') });
    });
  });

  describe('license', () => {
    it('fails when invalid or expired, warns within 30 days of its expiry, never naming the license ID', () => {
      const expired = checkLicense(installation({ expiresAt: new Date(NOW.getTime() - DAY).toISOString() }), NOW);
      expect(expired).toMatchObject({ status: 'fail', summary: expect.stringContaining('expired at') });
      expect(expired.fix).toContain('renewed license');
      expect(checkLicense(installation({ expiresAt: new Date(NOW.getTime() + 10 * DAY + 60_000).toISOString() }), NOW)).toMatchObject({ status: 'warn', summary: expect.stringContaining('in 10 day(s)') });
      expect(checkLicense(installation({ expiresAt: new Date(NOW.getTime() + 90 * DAY).toISOString() }), NOW).status).toBe('ok');
      const { license: _, ...withoutLicense } = installation();
      expect(checkLicense({ ...withoutLicense, licenseProblems: ['spec.appSlug is required'] }, NOW)).toMatchObject({ status: 'fail', details: ['spec.appSlug is required'] });
      expect(JSON.stringify(expired)).not.toContain(LICENSE_ID);
    });
  });

  describe('pull secrets', () => {
    const ok: PullSecretState = { present: true, type: 'kubernetes.io/dockerconfigjson', managed: true, current: true };
    it('names the namespaces where it is missing, stale or not pullgate\'s', () => {
      const r = checkPullSecrets(
        {
          name: 'my-app-registry',
          byNamespace: new Map<string, PullSecretState>([
            ['my-app', ok],
            ['monitoring', { present: false }],
            ['team-b', { ...ok, current: false }],
            ['team-c', { ...ok, managed: false }],
          ]),
          missingNamespaces: ['gone'],
        },
        'pullgate',
      );
      expect(r.status).toBe('fail');
      expect(r.summary).toBe('pull secret my-app-registry is not right in 3 namespace(s) in scope');
      expect(r.details).toEqual([
        'missing in: monitoring',
        'stale (not what the current license or credential gives) in: team-b',
        "exists but is not pullgate's (no label app.kubernetes.io/managed-by=pullgate), so pullgate leaves it as it is, in: team-c",
        'configured namespaces that do not exist: gone',
      ]);
    });

    it('is fine when present and current everywhere; warns when no namespace in scope exists', () => {
      expect(checkPullSecrets({ name: 'x', byNamespace: new Map([['my-app', ok]]), missingNamespaces: [] }, 'pullgate').status).toBe('ok');
      expect(checkPullSecrets({ name: 'x', byNamespace: new Map(), missingNamespaces: ['my-app'] }, 'pullgate').status).toBe('warn');
    });
  });

  describe('end-to-end probe', () => {
    const probe = healthyFacts().probe;
    const expected = { image: REWRITTEN_PROBE, pullSecretName: 'my-app-registry' };

    it('fails saying the webhook was not called when the Pod comes back unchanged', () => {
      const r = checkProbe({ ...probe, outcome: admitted(['quay.io/acme/pullgate-doctor-probe:1'], []) }, expected);
      expect(r.status).toBe('fail');
      expect(r.summary).toContain('the webhook was not called');
      expect(r.fix).toContain('selectors and match conditions must select namespace my-app');
    });

    it('tells a failed call, a TLS failure among them, from one never made', () => {
      const tls = checkProbe({ ...probe, outcome: { kind: 'refused', status: 500, message: 'Internal error occurred: failed calling webhook "pods.pullgate.dev": failed to call webhook: Post "https://127.0.0.1:1/mutate": tls: failed to verify certificate: x509: certificate signed by unknown authority' } }, expected);
      expect(tls).toMatchObject({ status: 'fail', summary: expect.stringContaining('the call failed') });
      expect(tls.fix).toContain('ca-bundle');
      const down = checkProbe({ ...probe, outcome: { kind: 'refused', status: 500, message: 'failed calling webhook "pods.pullgate.dev": connect: connection refused' } }, expected);
      expect(down.fix).toContain('pullgate is running');
    });

    it("warns with pullgate's warnings about a Pod it rewrote", () => {
      const warned = checkProbe({ ...probe, outcome: admitted([REWRITTEN_PROBE], ['my-app-registry'], ['pullgate: the license for Acme Corp expired at 2024-01-31T00:00:00.000Z; the proxy will refuse pulls', 'another webhook: hello']) }, expected);
      expect(warned).toMatchObject({ status: 'warn', details: ['pullgate: the license for Acme Corp expired at 2024-01-31T00:00:00.000Z; the proxy will refuse pulls'] });
    });

    it('fails when pullgate saw it but rewrote it otherwise; warns when the probe could not run', () => {
      expect(checkProbe({ ...probe, outcome: admitted([REWRITTEN_PROBE], []) }, expected).summary).toContain('did not rewrite it as the configuration says');
      expect(checkProbe({ outcome: { kind: 'skipped', reason: 'no namespace in scope exists' } }, expected).status).toBe('warn');
      expect(checkProbe({ ...probe, outcome: { kind: 'refused', status: 403, message: 'pods is forbidden: User "dev" cannot create resource "pods"' } }, expected).status).toBe('warn');
    });
  });

  it('fails overall when any check fails, and only then', () => {
    const results = evaluate(healthyFacts({ probe: { ...healthyFacts().probe, outcome: admitted(['quay.io/acme/pullgate-doctor-probe:1'], []) } }));
    expect(byId(results).probe!.status).toBe('fail');
    expect(overallStatus(results)).toBe('fail');
    expect(exitCodeOf(results)).toBe(1);
    expect(exitCodeOf(evaluate(healthyFacts({ servingCertificate: { source: 'nowhere', error: 'not found' } })))).toBe(0);
  });
});
