import { describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../../src/doctor/check.ts';
import { evaluate } from '../../../src/doctor/evaluate.ts';
import { flagValue, mountedFile } from '../../../src/doctor/mounted-file.ts';
import { renderJson, renderText } from '../../../src/doctor/render.ts';
import { warningTexts } from '../../../src/doctor/warnings.ts';
import { AUTH, LICENSE_ID } from '../helpers/fixtures.ts';
import { admitted, healthyFacts, installation, liveWebhook, NOW, pki } from './facts-fixture.ts';

const broken = () =>
  evaluate(
    healthyFacts({
      installation: installation({ expiresAt: new Date(NOW.getTime() - 60_000).toISOString() }),
      webhook: { name: 'pullgate', live: liveWebhook(pki().otherCa.certPem) },
      pullSecrets: { name: 'my-app-registry', byNamespace: new Map([['my-app', { present: false }]]), missingNamespaces: [] },
      probe: { ...healthyFacts().probe, outcome: admitted(['quay.io/acme/pullgate-doctor-probe:1'], []) },
    }),
  );

describe('doctor report', () => {
  it('tells a person each fault and what to do, and sums up', () => {
    const text = renderText(broken(), ['configuration: file pullgate.yaml']);
    expect(text).toMatch(/^Read:\n {2}configuration: file pullgate\.yaml\n\n/);
    expect(text).toContain('[FAIL] license: license for Acme Corp expired at');
    expect(text).toContain('[FAIL] ca-bundle: ');
    expect(text).toContain('[FAIL] pull-secrets: pull secret my-app-registry is not right in 1 namespace(s) in scope\n         - missing in: my-app\n         what to do: ');
    expect(text).toContain('[FAIL] probe: ');
    expect(text).toContain('[ok  ] webhook-configuration: ');
    expect(text.trimEnd().split('\n').at(-1)).toBe('4 check(s) failed, 0 warning(s).');
    expect(renderText(evaluate(healthyFacts()), []).trimEnd().split('\n').at(-1)).toBe('Everything checked is as it should be.');
  });

  it('gives JSON of a stable shape', () => {
    const json = JSON.parse(renderJson(broken(), ['x']));
    expect(Object.keys(json)).toEqual(['status', 'read', 'checks']);
    expect(json.status).toBe('fail');
    expect(json.read).toEqual(['x']);
    for (const check of json.checks) {
      expect(Object.keys(check).filter((k) => k !== 'fix')).toEqual(['id', 'status', 'summary', 'details']);
      expect(check.fix === undefined).toBe(check.status === 'ok');
    }
    expect(json.checks.map((c: { id: string }) => c.id)).toEqual(CHECK_IDS);
  });

  it('never holds the license ID or the credential', () => {
    for (const results of [broken(), evaluate(healthyFacts())]) {
      for (const out of [renderText(results, []), renderJson(results, [])]) {
        expect(out).not.toContain(LICENSE_ID);
        expect(out).not.toContain(AUTH);
      }
    }
  });
});

describe('where an installation keeps its files', () => {
  const spec = {
    containers: [],
    volumes: [
      { name: 'config', configMap: { name: 'pg-config' } },
      { name: 'license', secret: { secretName: 'pg-license', items: [{ key: 'license', path: 'sub/license.yaml' }] } },
      { name: 'tls', secret: { secretName: 'pg-tls' } },
      { name: 'scratch', emptyDir: {} },
    ],
  };
  const container = {
    name: 'pullgate',
    args: ['serve', '--config', '/etc/pullgate/config/config.yaml', '--tls-cert-file=/etc/pullgate/tls/tls.crt'],
    volumeMounts: [
      { name: 'config', mountPath: '/etc/pullgate/config' },
      { name: 'license', mountPath: '/etc/pullgate/license/' },
      { name: 'tls', mountPath: '/etc/pullgate/tls/tls.crt', subPath: 'tls.crt' },
      { name: 'scratch', mountPath: '/tmp' },
    ],
  };

  it('finds the ConfigMap or Secret key behind a file, through items and subPath', () => {
    expect(mountedFile(spec, container, '/etc/pullgate/config/config.yaml')).toEqual({ kind: 'ConfigMap', name: 'pg-config', key: 'config.yaml' });
    expect(mountedFile(spec, container, '/etc/pullgate/license/sub/license.yaml')).toEqual({ kind: 'Secret', name: 'pg-license', key: 'license' });
    expect(mountedFile(spec, container, '/etc/pullgate/tls/tls.crt')).toEqual({ kind: 'Secret', name: 'pg-tls', key: 'tls.crt' });
    expect(mountedFile(spec, container, '/etc/pullgate/license/other.yaml')).toBeUndefined();
    expect(mountedFile(spec, container, '/tmp/x')).toBeUndefined();
    expect(mountedFile(spec, container, '/etc/other')).toBeUndefined();
  });

  it('reads a flag in either form', () => {
    expect(flagValue(container, '--config', '-c')).toBe('/etc/pullgate/config/config.yaml');
    expect(flagValue(container, '--tls-cert-file')).toBe('/etc/pullgate/tls/tls.crt');
    expect(flagValue(container, '--namespace')).toBeUndefined();
    expect(flagValue(undefined, '--config')).toBeUndefined();
  });
});

it('reads the texts of Warning headers', () => {
  expect(warningTexts('299 - "pullgate: the license expired", 299 - "a \\"quoted\\" one"')).toEqual(['pullgate: the license expired', 'a "quoted" one']);
  expect(warningTexts(undefined)).toEqual([]);
});
