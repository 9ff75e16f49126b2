import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { e2e, unavailable } from './support/env.ts';

const deploy = (file: string) => fileURLToPath(new URL(`../../deploy/${file}`, import.meta.url));

describe.skipIf(unavailable)('deploy/ against the real API server', () => {
  // certificate.yaml is left out: its kinds come from cert-manager's CRDs, which this control
  // plane does not install; everything else must pass the API server's own validation.
  it('every built-in manifest passes server-side validation', async () => {
    const { client } = e2e();
    const files = ['namespace.yaml', 'rbac.yaml', 'write-guard.yaml', 'config.yaml', 'deployment.yaml', 'pdb.yaml', 'webhook.yaml'];
    const out = await client.kubectl(['apply', '--dry-run=server', ...files.flatMap((f) => ['-f', deploy(f)])], { allowFailure: true });
    // Objects the test setup created imperatively draw kubectl's own last-applied note; nothing else may appear.
    const complaints = out.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('last-applied-configuration'));
    expect(complaints).toEqual([]);
    expect(out.code).toBe(0);
    for (const kind of ['namespace/pullgate', 'serviceaccount/pullgate', 'clusterrole.rbac.authorization.k8s.io/pullgate', 'clusterrolebinding.rbac.authorization.k8s.io/pullgate',
      'role.rbac.authorization.k8s.io/pullgate', 'rolebinding.rbac.authorization.k8s.io/pullgate',
      'validatingadmissionpolicy.admissionregistration.k8s.io/pullgate-write-guard', 'validatingadmissionpolicybinding.admissionregistration.k8s.io/pullgate-write-guard', 'configmap/pullgate-config', 'deployment.apps/pullgate', 'service/pullgate', 'poddisruptionbudget.policy/pullgate', 'mutatingwebhookconfiguration.admissionregistration.k8s.io/pullgate']) {
      expect(out.stdout).toContain(kind);
    }
  });
});
