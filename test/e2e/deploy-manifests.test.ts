import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { e2e, unavailable } from './support/env.ts';

const deploy = (file: string) => fileURLToPath(new URL(`../../deploy/${file}`, import.meta.url));
/** `kind.group/name`, as kubectl names a resource. */
const resourceName = (m: { apiVersion: string; kind: string; metadata: { name: string } }) =>
  `${m.kind.toLowerCase()}${m.apiVersion.includes('/') ? `.${m.apiVersion.split('/')[0]}` : ''}/${m.metadata.name}`;

describe.skipIf(unavailable)('deploy/ against the real API server', () => {
  // certificate.yaml is left out: its kinds come from cert-manager's CRDs, which this control
  // plane does not install; everything else the kustomization lists must pass the API server's
  // own validation.
  it('every built-in manifest passes server-side validation', async () => {
    const { client } = e2e();
    const files = (parse(readFileSync(deploy('kustomization.yaml'), 'utf8')).resources as string[]).filter((f) => f !== 'certificate.yaml');
    expect(files).toEqual(expect.arrayContaining(['namespace.yaml', 'rbac.yaml', 'write-guard.yaml', 'config.yaml', 'deployment.yaml', 'service.yaml', 'pdb.yaml', 'webhook.yaml']));
    const out = await client.kubectl(['apply', '--dry-run=server', ...files.flatMap((f) => ['-f', deploy(f)])], { allowFailure: true });
    // Objects the test setup created imperatively draw kubectl's own last-applied note; nothing else may appear.
    const complaints = out.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('last-applied-configuration'));
    expect(complaints).toEqual([]);
    expect(out.code).toBe(0);
    const objects = files.flatMap((f) => parseAllDocuments(readFileSync(deploy(f), 'utf8')).map((d) => d.toJS()));
    expect(objects.length).toBeGreaterThanOrEqual(13);
    for (const object of objects) expect(out.stdout).toContain(resourceName(object));
  });
});
