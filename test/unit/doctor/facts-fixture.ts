// A healthy installation as doctor gathers it, built from the same configuration, license and
// certificates a real one would have; tests break one part of it at a time.
import { parse } from 'yaml';
import { effectiveSettings } from '../../../src/config/license-settings.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import type { DoctorFacts, ProbeOutcome, PullSecretState } from '../../../src/doctor/facts.ts';
import { namespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../../src/k8s/webhook-configuration.ts';
import { acceptableMatchConditions } from '../../../src/k8s/webhook-match-conditions.ts';
import { parseLicense } from '../../../src/license/license.ts';
import { createCertificateAuthority, issueServingCert, type CertificateAuthority } from '../../../src/tls/certificates.ts';
import { configObject, licenseYaml, type LicenseFields } from '../helpers/fixtures.ts';
import { stringify } from 'yaml';

export const OWN_NAMESPACE = 'pullgate';
export const NOW = new Date();

let cached: { ca: CertificateAuthority; servingPem: string; otherCa: CertificateAuthority } | undefined;

/** One CA and serving certificate for every test (RSA keys take a moment), and an unrelated CA. */
export function pki() {
  cached ??= (() => {
    const ca = createCertificateAuthority('pullgate-webhook-ca', 90);
    return { ca, servingPem: issueServingCert(ca, ['pullgate.pullgate.svc']).certPem, otherCa: createCertificateAuthority('some-other-ca') };
  })();
  return cached;
}

/** The configuration file of the installation, as its ConfigMap holds it. */
export const CONFIG_YAML = stringify(configObject('/etc/pullgate/license/license.yaml', { pullSecret: { name: 'my-app-registry' } }));

export function installation(license: LicenseFields = {}) {
  const config = validateConfig(parse(CONFIG_YAML));
  const parsed = parseLicense(licenseYaml(license));
  return { configSource: 'file pullgate.yaml', config, configProblems: [], licenseSource: 'file license.yaml', license: parsed, licenseProblems: [], settings: effectiveSettings(config, parsed) };
}

/** The webhook configuration as the API server would hold it: rendered, with its caBundle and the defaults it adds. */
export function liveWebhook(caPem = pki().ca.certPem) {
  const { config } = installation();
  const rendered = webhookConfiguration(namespaceScope(config.namespaces, OWN_NAMESPACE), {
    matchConditions: acceptableMatchConditions(config)[0]!,
    clientConfig: { service: { name: 'pullgate', namespace: OWN_NAMESPACE, path: '/mutate', port: 443 }, caBundle: Buffer.from(caPem).toString('base64') },
  });
  const stored = structuredClone(rendered);
  for (const hook of stored.webhooks ?? []) {
    // Stored objects share nothing (the rendering hands every webhook the same clientConfig).
    hook.clientConfig = { ...hook.clientConfig };
    // Defaults and pruning of the API server: an empty matchLabels is dropped, keys reordered.
    hook.namespaceSelector = { matchExpressions: hook.namespaceSelector!.matchExpressions!, ...(hook.namespaceSelector!.matchLabels ? { matchLabels: hook.namespaceSelector!.matchLabels } : {}) };
  }
  return stored;
}

export const REWRITTEN_PROBE = 'proxy.example.com/proxy/my-app/quay.io/acme/pullgate-doctor-probe:1';

export function admitted(images = [REWRITTEN_PROBE], imagePullSecrets = ['my-app-registry'], warnings: string[] = []): ProbeOutcome {
  return { kind: 'admitted', images, imagePullSecrets, annotations: {}, warnings };
}

export function healthyFacts(overrides: Partial<DoctorFacts> = {}): DoctorFacts {
  const current: PullSecretState = { present: true, type: 'kubernetes.io/dockerconfigjson', managed: true, current: true };
  return {
    now: NOW,
    ownNamespace: OWN_NAMESPACE,
    installation: installation(),
    webhook: { name: 'pullgate', live: liveWebhook() },
    installGuard: { name: 'pullgate-install', configured: true, live: null },
    servingCertificate: { source: 'Secret pullgate/pullgate-tls', chainPem: [pki().servingPem], host: 'pullgate.pullgate.svc' },
    pullSecrets: { name: 'my-app-registry', byNamespace: new Map([['my-app', current], ['monitoring', current]]), missingNamespaces: [] },
    probe: { namespace: 'my-app', podName: 'pullgate-doctor-probe-1', image: 'quay.io/acme/pullgate-doctor-probe:1', outcome: admitted() },
    ...overrides,
  };
}
