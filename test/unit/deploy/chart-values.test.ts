// The chart's values: values.schema.json refuses a bad value before anything renders (and refuses
// the configuration values pullgate itself would refuse at start), the rules that span values
// refuse with a message saying what to set, and each optional part renders as documented.
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../../src/config/schema.ts';
import { expectAgreement } from './agreement.ts';
import { helmUnavailable, refusal, render } from './helm.ts';

const BASE = { appSlug: 'acme', privateRegistries: ['quay.io/acme'], license: { existingSecret: 'acme-license' }, namespaces: { application: 'acme' } };
/** The configuration file BASE makes, as pullgate reads it. */
const BASE_CONFIG = { appSlug: 'acme', privateRegistries: ['quay.io/acme'], license: { file: '/etc/pullgate/license/license.yaml' }, namespaces: { application: 'acme' } };

const isMapping = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `patch` merged into `base` as helm merges values files: mappings key by key, anything else replaced. */
function merged(base: object, patch: object): object {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const inner = out[key];
    out[key] = isMapping(value) && isMapping(inner) ? merged(inner, value) : value;
  }
  return out;
}

const SCHEMA = "values don't meet the specifications of the schema";

/** Values of pullgate's configuration the schema refuses, as pullgate does: [what, patch, JSON pointer in helm's message]. */
const BAD_CONFIG_VALUES: Array<[string, object, string]> = [
  ['no private registry', { privateRegistries: [] }, '/privateRegistries'],
  ['a URL as private registry', { privateRegistries: ['https://quay.io/acme'] }, '/privateRegistries/0'],
  ['a private registry with a port', { privateRegistries: ['quay.io:5000/acme'] }, '/privateRegistries/0'],
  ['a private registry without a dot', { privateRegistries: ['acme/web'] }, '/privateRegistries/0'],
  ['an upper-case appSlug', { appSlug: 'Acme' }, '/appSlug'],
  ['an appSlug with a slash', { appSlug: 'acme/web' }, '/appSlug'],
  ['Docker Hub as proxyDomain', { proxyDomain: 'docker.io' }, '/proxyDomain'],
  ['a proxyDomain without a dot', { proxyDomain: 'proxy' }, '/proxyDomain'],
  ['a URL as registryDomain', { registryDomain: 'https://registry.example.com' }, '/registryDomain'],
  ['"*" with names', { namespaces: { additional: ['*', 'monitoring'] } }, '/namespaces/additional'],
  ['an invalid namespace name', { namespaces: { exclude: ['Legacy_NS'] } }, '/namespaces/exclude/0'],
  ['an opt-in label without "="', { namespaces: { optInLabel: 'pullgate.dev/inject' } }, '/namespaces/optInLabel'],
  ['an invalid pull secret name', { pullSecret: { name: 'My Registry' } }, '/pullSecret/name'],
  ['an invalid credential Secret name', { credentials: { dockerConfigSecret: 'Vendor_Pull' } }, '/credentials/dockerConfigSecret'],
];

/** Other bad values: [what, patch, JSON pointer]. */
const BAD_VALUES: Array<[string, object, string]> = [
  ['an unknown value', { replicas: 3 }, "additional properties 'replicas' not allowed"],
  ['a failure policy that does not exist', { webhook: { failurePolicy: 'Retry' } }, '/webhook/failurePolicy'],
  ['a timeout past 30 s', { webhook: { timeoutSeconds: 31 } }, '/webhook/timeoutSeconds'],
  ['no replica', { replicaCount: 0 }, '/replicaCount'],
  ['root', { securityContext: { runAsUser: 0 } }, '/securityContext/runAsUser'],
  ['a digest that is not sha256', { image: { digest: 'sha256:abc' } }, '/image/digest'],
  ['a PDB of "most"', { podDisruptionBudget: { minAvailable: 'most' } }, '/podDisruptionBudget/minAvailable'],
  ['a license key with a slash', { license: { key: 'a/b' } }, '/license/key'],
  ['a TLS mode that does not exist', { tls: { mode: 'manual' } }, '/tls/mode'],
  ['a serving certificate validity without a unit', { tls: { certValidity: '7' } }, '/tls/certValidity'],
  ['a dockerconfigjson that is not base64', { global: { replicated: { dockerconfigjson: '{"auths":{}}' } } }, '/global/replicated/dockerconfigjson'],
];

describe.skipIf(helmUnavailable)("the chart's values", () => {
  it.each(BAD_CONFIG_VALUES)('refuses %s, as pullgate would', (_, patch, at) => {
    const message = refusal(merged(BASE, patch));
    expect(message).toContain(SCHEMA);
    expect(message).toContain(`'${at}'`);
    expect(checkConfig(merged(BASE_CONFIG, patch)).ok, 'pullgate refuses it too').toBe(false);
  });

  it.each(BAD_VALUES)('refuses %s', (_, patch, at) => {
    const message = refusal(merged(BASE, patch));
    expect(message).toContain(SCHEMA);
    expect(message).toContain(at);
  });

  it('accepts what pullgate accepts at the edges of each rule, and hands it over unchanged', () => {
    const values = merged(BASE, {
      appSlug: 'my_app-2',
      proxyDomain: 'localhost:5000',
      registryDomain: 'registry.example.com:8443',
      privateRegistries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'localhost/acme', 'docker.io/acme/', '10.1.2.3/team'],
      namespaces: { additional: ['monitoring', 'a'], optInLabel: 'example.com/serve=', exclude: ['legacy'] },
      pullSecret: { name: 'acme.registry' },
      webhook: { timeoutSeconds: 30 },
    });
    const { config } = expectAgreement(render(values), 'acme-system', 'acme-pullgate', { failurePolicy: 'Fail', timeoutSeconds: 30 });
    expect(config).toMatchObject({ appSlug: 'my_app-2', proxyDomain: 'localhost:5000', registryDomain: 'registry.example.com:8443', pullSecretName: 'acme.registry' });
    expect(config.privateRegistries.map((p) => [p.host, ...p.pathSegments].join('/'))).toEqual(['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'localhost/acme', 'docker.io/acme', '10.1.2.3/team']);
    expect(config.namespaces).toMatchObject({ additional: ['monitoring', 'a'], optInLabel: { key: 'example.com/serve', value: '' }, exclude: ['kube-system', 'legacy'] });
  });

  it('refuses what the schema cannot see, saying what to set', () => {
    expect(refusal(merged(BASE, { license: { existingSecret: '' } }))).toContain('set license.existingSecret (a Secret holding the License document) or license.value');
    expect(refusal(merged(BASE, { license: { value: 'apiVersion: kots.io/v1beta1' } }))).toContain('set license.existingSecret or license.value, not both');
    expect(refusal(merged(BASE, { appSlug: '' }))).toContain('set pullSecret.name (or appSlug)');
    expect(refusal(merged(BASE, { namespaces: { additional: ['legacy'], exclude: ['legacy'] } }))).toContain('namespaces: "legacy" is both served and excluded');
    expect(refusal(merged(BASE, { namespaces: { additional: ['kube-system'] } }))).toContain('namespaces: "kube-system" is both served and excluded');
    expect(refusal(merged(BASE, { namespaces: { application: 'acme-system' } }))).toContain("is pullgate's own namespace, which it never serves");
    const onRegistry = { registryDomain: 'registry.example.com', privateRegistries: ['quay.io/acme', 'Registry.example.com/acme'] };
    expect(refusal(merged(BASE, onRegistry))).toContain('privateRegistries: "Registry.example.com/acme" is on registryDomain registry.example.com');
    expect(checkConfig(merged(BASE_CONFIG, onRegistry)).ok, 'pullgate refuses it too').toBe(false);
    expect(refusal(merged(BASE, { replicaCount: 1 }))).toContain('podDisruptionBudget.minAvailable 1 with replicaCount 1 would block every node drain');
    expect(render(merged(BASE, { replicaCount: 1, podDisruptionBudget: { minAvailable: 0 } })).one('PodDisruptionBudget').spec.minAvailable).toBe(0);
    expect(refusal(merged(BASE, { namespaces: { applicationFromRelease: true } }))).toContain('set namespaces.application or namespaces.applicationFromRelease, not both');
    expect(refusal(merged(BASE, { namespaces: { application: '', applicationFromRelease: true } }))).toContain('"acme-system" is pullgate\'s own namespace');
  });

  it('always runs hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const securityContext of [{}, { runAsUser: null, runAsGroup: null }, { runAsUser: 1234, runAsGroup: 0 }]) {
      const pod = render(merged(BASE, { securityContext })).one('Deployment').spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    const platform = render(merged(BASE, { securityContext: { runAsUser: null, runAsGroup: null } })).one('Deployment').spec.template.spec.securityContext;
    expect(platform).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(render(BASE).one('Deployment').spec.template.spec.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
  });

  it('renders the Deployment from its values: replicas, spread, disruption budget, resources, priority, image, scheduling', () => {
    const defaults = render(BASE);
    const deployment = defaults.one('Deployment');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.containers[0].image).toBe('ghcr.io/pullgate/pullgate:0.1.0');
    expect(deployment.spec.template.spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: deployment.spec.selector.matchLabels } },
    ]);
    expect(defaults.one('PodDisruptionBudget').spec).toEqual({ minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
    expect(deployment.spec.template.spec.priorityClassName).toBeUndefined();
    // Two releases' Pods never select each other.
    expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'pullgate', 'app.kubernetes.io/instance': 'acme' });

    const digest = `sha256:${'a'.repeat(64)}`;
    const custom = render(merged(BASE, {
      replicaCount: 3,
      topologySpread: { enabled: false },
      podDisruptionBudget: { minAvailable: '50%' },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      priorityClassName: 'system-cluster-critical',
      image: { repository: 'registry.example.com/pullgate', digest, pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'pullgate-image' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
    }));
    const spec = custom.one('Deployment').spec;
    expect(spec.replicas).toBe(3);
    expect(spec.template.spec.topologySpreadConstraints).toBeUndefined();
    expect(custom.one('PodDisruptionBudget').spec.minAvailable).toBe('50%');
    expect(spec.template.spec.containers[0]).toMatchObject({ image: `registry.example.com/pullgate@${digest}`, imagePullPolicy: 'Always', resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } });
    expect(spec.template.spec).toMatchObject({ priorityClassName: 'system-cluster-critical', imagePullSecrets: [{ name: 'pullgate-image' }], nodeSelector: { 'kubernetes.io/os': 'linux' } });
    expect(spec.template.spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(render(merged(BASE, { podDisruptionBudget: { enabled: false } })).all('PodDisruptionBudget')).toEqual([]);
  });

  it('rolls the Pods when the configuration changes, not otherwise', () => {
    const checksum = (values: object) => render(values).one('Deployment').spec.template.metadata.annotations['checksum/config'];
    expect(checksum(BASE)).toBe(checksum(merged(BASE, { replicaCount: 3 })));
    expect(checksum(BASE)).not.toBe(checksum(merged(BASE, { privateRegistries: ['quay.io/acme', 'docker.io/acme'] })));
  });

  it('self-managed by default: no Certificate, no TLS volume, no caBundle for an upgrade to reset; pullgate told its CA Secret, webhook configuration and Service', () => {
    const selfManaged = render(BASE);
    expect(selfManaged.all('Certificate')).toEqual([]);
    expect(selfManaged.all('Issuer')).toEqual([]);
    const configuration = selfManaged.one('MutatingWebhookConfiguration');
    expect(configuration.metadata.annotations).toBeUndefined();
    for (const hook of configuration.webhooks) expect(hook.clientConfig).toEqual({ service: { namespace: 'acme-system', name: 'acme-pullgate', path: '/mutate', port: 443 } });
    const pod = selfManaged.one('Deployment').spec.template.spec;
    expect(pod.volumes.map((v: { name: string }) => v.name)).not.toContain('tls');
    expect(pod.containers[0].args).toEqual(['serve', '--config', '/etc/pullgate/config/config.yaml', '--tls', 'self-managed', '--tls-ca-secret', 'acme-pullgate-ca',
      '--webhook-configuration', configuration.metadata.name, '--service-name', selfManaged.one('Service').metadata.name, '--tls-cert-validity', '7d', '--install-guard', 'acme-pullgate-install']);
    const custom = render(merged(BASE, { tls: { caSecretName: 'webhook-ca', certValidity: '36h' } })).one('Deployment').spec.template.spec.containers[0].args;
    expect(custom).toEqual(expect.arrayContaining(['webhook-ca', '36h']));
  });

  it('with cert-manager: a Certificate for the Service name and the CA injected; with a Secret: neither, and the CA given', () => {
    const withCertManager = render(merged(BASE, { tls: { mode: 'cert-manager' } }));
    expect(withCertManager.one('Certificate').spec).toMatchObject({ secretName: 'acme-pullgate-tls', dnsNames: ['acme-pullgate.acme-system.svc', 'acme-pullgate.acme-system.svc.cluster.local'], issuerRef: { name: 'acme-pullgate-selfsigned', kind: 'Issuer' } });
    expect(withCertManager.one('Issuer').spec).toEqual({ selfSigned: {} });
    expect(withCertManager.one('MutatingWebhookConfiguration').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'acme-system/acme-pullgate-tls' });
    expect(withCertManager.one('Service').metadata.name).toBe('acme-pullgate');
    expect(withCertManager.one('Deployment').spec.template.spec.containers[0].args).toEqual(['serve', '--config', '/etc/pullgate/config/config.yaml', '--install-guard', 'acme-pullgate-install']);
    expect(withCertManager.one('Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName).toBe('acme-pullgate-tls');

    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64');
    const own = render(merged(BASE, { tls: { mode: 'secret', secretName: 'webhook-tls', caBundle: ca } }));
    expect(own.all('Certificate')).toEqual([]);
    expect(own.all('Issuer')).toEqual([]);
    const configuration = own.one('MutatingWebhookConfiguration');
    expect(configuration.metadata.annotations).toBeUndefined();
    for (const hook of configuration.webhooks) expect(hook.clientConfig).toEqual({ service: { namespace: 'acme-system', name: 'acme-pullgate', path: '/mutate', port: 443 }, caBundle: ca });
    expect(own.one('Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName).toBe('webhook-tls');
    // Neither needs rights on the webhook configuration or a CA Secret: only deleting the install guard.
    expect(own.one('ClusterRole').rules.filter((r: { resources: string[] }) => r.resources.includes('mutatingwebhookconfigurations')))
      .toEqual([{ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['acme-pullgate-install'], verbs: ['delete'] }]);
    expect(JSON.stringify(own.one('Role').rules)).not.toContain('acme-pullgate-ca');
  });

  it('renders a ServiceMonitor and a NetworkPolicy only when asked, aimed at its own Pods and ports', () => {
    expect(render(BASE).all('ServiceMonitor')).toEqual([]);
    expect(render(BASE).all('NetworkPolicy')).toEqual([]);
    const prometheus = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    const rendered = render(merged(BASE, { serviceMonitor: { enabled: true, interval: '30s', labels: { release: 'prometheus' } }, networkPolicy: { enabled: true, metricsFrom: prometheus } }));
    const service = rendered.one('Service');
    const monitor = rendered.one('ServiceMonitor');
    expect(monitor.metadata.labels.release).toBe('prometheus');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' }]);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain('metrics');

    const policy = rendered.one('NetworkPolicy').spec;
    expect(policy.podSelector.matchLabels).toEqual(rendered.one('Deployment').spec.selector.matchLabels);
    expect(policy.policyTypes).toEqual(['Ingress']);
    expect(policy.ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }] }, { ports: [{ port: 'metrics', protocol: 'TCP' }], from: prometheus }]);
    const closed = render(merged(BASE, { networkPolicy: { enabled: true } })).one('NetworkPolicy').spec;
    expect(closed.ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
  });

  it('names every object after fullnameOverride, or the release when it says pullgate', () => {
    const names = (values: object, release: string) => new Set(render(values, { release }).docs.filter((d) => d.kind !== 'ConfigMap' && d.kind !== 'Secret').map((d) => d.metadata.name.replace(/-(write-guard|selfsigned|tls)$/, '')));
    expect(names(BASE, 'acme')).toEqual(new Set(['acme-pullgate']));
    expect(names(BASE, 'pullgate-acme')).toEqual(new Set(['pullgate-acme']));
    expect(names(merged(BASE, { fullnameOverride: 'gate' }), 'acme')).toEqual(new Set(['gate']));
  });
});
