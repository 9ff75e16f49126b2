// The chart as a dependency of a vendor's chart: configured under the dependency's key, the
// credential from the global.replicated values a Replicated Helm install injects, pullgate kept
// in a namespace of its own so it serves the application's, and switched off by the parent's
// condition.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHART_DIR } from '../../../scripts/render-deploy.ts';
import { expectAgreement } from './agreement.ts';
import { helm, helmUnavailable, render } from './helm.ts';

const DOCKER_CONFIG = Buffer.from('{"auths":{"proxy.example.com":{"auth":"TElDRU5TRV9JRDpkZXAtdGVzdA=="}}}').toString('base64');

/** A vendor's chart with pullgate as a dependency, as `helm create` plus the dependency would leave it. */
function vendorChart(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'pullgate-vendor-')), 'acme-platform');
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), stringify({
    apiVersion: 'v2', name: 'acme-platform', version: '1.4.0', appVersion: '1.4.0',
    dependencies: [{ name: 'pullgate', version: '0.1.0', repository: `file://${CHART_DIR}`, condition: 'pullgate.enabled' }],
  }));
  writeFileSync(join(dir, 'values.yaml'), stringify({
    pullgate: {
      enabled: true,
      namespaceOverride: 'pullgate-system',
      createNamespace: true,
      appSlug: 'acme',
      privateRegistries: ['quay.io/acme'],
      // The application runs in the release namespace, whatever the customer calls it.
      namespaces: { applicationFromRelease: true },
      license: { existingSecret: 'acme-license' },
    },
    // What the Replicated registry injects into the parent chart's values, credentials and all.
    global: { replicated: { channelName: 'Stable', customerName: 'ACME', dockerconfigjson: DOCKER_CONFIG, licenseFields: { expires_at: { name: 'expires_at', value: '' } } } },
  }));
  writeFileSync(join(dir, 'templates', 'web.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-web\ndata: {}\n');
  return dir;
}

describe.skipIf(helmUnavailable)('the chart as a dependency of a vendor chart', () => {
  let chart: string;
  beforeAll(() => {
    chart = vendorChart();
    const built = helm(['dependency', 'build', chart]);
    expect(built.code, built.stderr).toBe(0);
  });

  it('renders pullgate into its own namespace, serving the application namespace, with the credential from global.replicated', () => {
    const rendered = render({}, { chart, release: 'acme', namespace: 'acme' });
    const pullgate = rendered.docs.filter((d) => d.metadata.labels?.['app.kubernetes.io/name'] === 'pullgate');
    expect([...rendered.bySource.keys()].filter((s) => !s.startsWith('acme-platform/charts/pullgate/'))).toEqual(['acme-platform/templates/web.yaml']);
    for (const doc of pullgate) if (doc.metadata.namespace !== undefined) expect(doc.metadata.namespace, doc.kind).toBe('pullgate-system');
    expect(rendered.one('Namespace').metadata.name).toBe('pullgate-system');

    const { config } = expectAgreement(rendered, 'pullgate-system', 'acme-pullgate');
    expect(config.credentials).toEqual({ dockerConfigSecret: 'acme-pullgate-dockerconfig' });
    expect(rendered.one('Secret', 'acme-pullgate-dockerconfig')).toMatchObject({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': DOCKER_CONFIG } });
    expect(config.namespaces.application).toBe('acme');
    expect(rendered.one('MutatingWebhookConfiguration').webhooks[0].namespaceSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['acme'] }]);
    // Installed into another namespace, it serves that one.
    const elsewhere = render({}, { chart, release: 'acme', namespace: 'acme-staging' });
    expect(expectAgreement(elsewhere, 'pullgate-system', 'acme-pullgate').config.namespaces.application).toBe('acme-staging');
  });

  it("validates the dependency's values with its schema", () => {
    const out = helm(['template', 'acme', chart, '--namespace', 'acme', '--kube-version', '1.30.0', '--set', 'pullgate.webhook.failurePolicy=Retry']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('/webhook/failurePolicy');
  });

  it("renders nothing of pullgate when the parent's condition turns it off", () => {
    const rendered = render({ pullgate: { enabled: false } }, { chart, release: 'acme', namespace: 'acme' });
    expect(rendered.docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['ConfigMap/acme-web']);
  });
});
