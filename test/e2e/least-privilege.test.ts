// pullgate's identity on the real API server, with deploy/rbac.yaml and deploy/write-guard.yaml as
// shipped: exactly the intended rights, and the write guard refusing every Secret write but the
// pull secret's — including the escalation RBAC alone allows (a ServiceAccount token Secret with
// the pull secret's name in kube-system, for a cluster-admin ServiceAccount).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClient, RunResult } from '../cluster/client.ts';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { expand, rights } from './support/can-i.ts';
import { APP_NAMESPACE, OWN_NAMESPACE, SECRET_NAME } from './support/scenario.ts';

const deploy = (file: string) => fileURLToPath(new URL(`../../deploy/${file}`, import.meta.url));
const PULLGATE = `system:serviceaccount:${OWN_NAMESPACE}:pullgate`;
/** A ServiceAccount of the same namespace with no binding at all: what any such identity may do. */
const NOBODY = `system:serviceaccount:${OWN_NAMESPACE}:nobody-${randomBytes(3).toString('hex')}`;
const POLICY = "ValidatingAdmissionPolicy 'pullgate-write-guard'";
/** The CA Secret of self-managed TLS, the one Secret pullgate may create in its own namespace. */
const CA_SECRET = 'pullgate-ca';
const MANAGED = { 'app.kubernetes.io/managed-by': 'pullgate' };
// Secret data the tests send; no refusal may ever echo it.
const DATA = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: Buffer.from('LICENSE_ID:lp-e2e-7c1d0a').toString('base64') } } })).toString('base64');

const CLUSTER_WIDE = [
  ...expand('namespaces', [], ['get', 'list', 'watch']),
  ...expand('secrets', [], ['create']),
  ...expand('secrets', [SECRET_NAME], ['get', 'list', 'watch', 'update', 'delete']),
  // Self-managed TLS (deploy/'s default): its own webhook configuration, to keep the caBundle.
  ...expand('mutatingwebhookconfigurations.admissionregistration.k8s.io', ['pullgate'], ['list', 'watch', 'update']),
];
const OWN_NAMESPACE_ONLY = [
  ...expand('leases.coordination.k8s.io', [], ['create']),
  ...expand('leases.coordination.k8s.io', ['pullgate-leader'], ['get', 'update']),
  ...expand('secrets', [CA_SECRET], ['get']),
];

const secret = (name: string, namespace: string, changes: { type?: string; labels?: Record<string, string>; annotations?: Record<string, string>; data?: Record<string, string> } = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(changes.labels ? { labels: changes.labels } : {}), ...(changes.annotations ? { annotations: changes.annotations } : {}) },
    type: changes.type ?? 'kubernetes.io/dockerconfigjson',
    ...(changes.type === 'kubernetes.io/service-account-token' ? {} : { data: changes.data ?? { '.dockerconfigjson': DATA } }),
  });

describe.skipIf(unavailable)("pullgate's rights, as the API server enforces them", () => {
  let client: ClusterClient;
  let asPullgate: string;
  let ns: string;
  let other: string;

  /** Runs kubectl as pullgate's ServiceAccount. */
  const pullgate = (args: string[], input?: string): Promise<RunResult> => client.kubectl(args, { kubeconfig: asPullgate, allowFailure: true, ...(input ? { input } : {}) });
  const exists = async (name: string, namespace: string) => (await client.kubectl(['get', 'secret', name, '-n', namespace, '-o', 'name'], { allowFailure: true })).code === 0;

  function expectRefused(result: RunResult, message: string, what = message): void {
    expect(result.code, what).not.toBe(0);
    expect(result.stderr, what).toContain(POLICY);
    expect(result.stderr, what).toContain(message);
    expect(result.stderr, what).not.toContain(DATA);
  }

  beforeAll(async () => {
    client = e2e().client;
    // As shipped (the shared setup applied them already; applying again changes nothing).
    await client.kubectl(['apply', '-f', deploy('rbac.yaml'), '-f', deploy('write-guard.yaml')]);
    asPullgate = await client.serviceAccountKubeconfig(OWN_NAMESPACE, 'pullgate');
    const suffix = randomBytes(3).toString('hex');
    ns = `lp-${suffix}`;
    other = `lp-other-${suffix}`;
    for (const name of [ns, other]) await client.kubectl(['create', 'namespace', name]);
    // The API server starts enforcing a new policy once its informer has it: wait until a write
    // the policy refuses is refused by it (a dry run, so nothing is stored either way).
    await eventually(
      'the write guard to be in effect',
      async () => {
        const out = await pullgate(['create', '--dry-run=server', '-f', '-'], secret('write-guard-probe', ns, { labels: MANAGED }));
        return out.stderr.includes(POLICY) ? true : undefined;
      },
      60_000,
    );
  });

  afterAll(async () => {
    if (ns) await client.kubectl(['delete', 'namespace', ns, other, '--wait=false'], { allowFailure: true });
  });

  it('holds exactly the intended rights in an application namespace, in kube-system and in its own namespace', async () => {
    for (const [namespace, expected] of [
      [APP_NAMESPACE, CLUSTER_WIDE],
      ['kube-system', CLUSTER_WIDE],
      [OWN_NAMESPACE, [...CLUSTER_WIDE, ...OWN_NAMESPACE_ONLY]],
    ] as const) {
      const baseline = await rights(client, NOBODY, namespace);
      const granted = await rights(client, PULLGATE, namespace);
      // Whatever every ServiceAccount may do (discovery, self reviews) pullgate may do too...
      expect([...baseline].filter((r) => !granted.has(r)), namespace).toEqual([]);
      // ...and on top of that, exactly its own rights.
      expect([...granted].filter((r) => !baseline.has(r)).sort(), namespace).toEqual([...expected].sort());
    }
  });

  it('refuses the ServiceAccount-token escalation RBAC alone would allow, with the policy named in the refusal', async () => {
    // A cluster-admin ServiceAccount whose token the escalation would obtain.
    const target = `lp-admin-${randomBytes(3).toString('hex')}`;
    await client.kubectl(['create', 'serviceaccount', target, '-n', 'kube-system']);
    await client.kubectl(['create', 'clusterrolebinding', target, '--clusterrole=cluster-admin', `--serviceaccount=kube-system:${target}`]);
    try {
      // The threat is real on this control plane: the token controller fills in such a Secret.
      await client.kubectl(['create', 'serviceaccount', 'token-demo', '-n', ns]);
      await client.kubectl(['create', '-f', '-'], { input: secret('token-demo', ns, { type: 'kubernetes.io/service-account-token', annotations: { 'kubernetes.io/service-account.name': 'token-demo' } }) });
      await eventually('the token controller to fill in a token Secret', async () => (await getJson(client, ['secret', 'token-demo', '-n', ns])).data?.token, 60_000);

      // RBAC lets pullgate create any Secret, there too: only the write guard stands in the way.
      expect((await pullgate(['auth', 'can-i', 'create', 'secrets', '-n', 'kube-system'])).stdout.trim()).toBe('yes');
      const escalation = secret(SECRET_NAME, 'kube-system', {
        type: 'kubernetes.io/service-account-token',
        labels: MANAGED,
        annotations: { 'kubernetes.io/service-account.name': target },
      });
      expectRefused(await pullgate(['create', '-f', '-'], escalation), 'pullgate may not write Secrets in namespace kube-system');
      expect(await exists(SECRET_NAME, 'kube-system')).toBe(false);
      // Anywhere else, the type gives it away.
      expectRefused(await pullgate(['create', '-f', '-'], secret(SECRET_NAME, ns, { type: 'kubernetes.io/service-account-token', labels: MANAGED, annotations: { 'kubernetes.io/service-account.name': 'default' } })), 'of type kubernetes.io/dockerconfigjson');
      expect(await exists(SECRET_NAME, ns)).toBe(false);
    } finally {
      await client.kubectl(['delete', 'clusterrolebinding', target], { allowFailure: true });
      await client.kubectl(['delete', 'serviceaccount', target, '-n', 'kube-system'], { allowFailure: true });
    }
  });

  it('refuses every other Secret write: another name, no label, another type, its own namespace', async () => {
    const cases: Array<[string, string, string]> = [
      ['another name', secret('other-registry', ns, { labels: MANAGED }), `pullgate may only write the Secret named ${SECRET_NAME}, not "other-registry"`],
      ['no managed-by label', secret(SECRET_NAME, ns), 'pullgate may only write Secrets labelled app.kubernetes.io/managed-by=pullgate'],
      ['another managed-by value', secret(SECRET_NAME, ns, { labels: { 'app.kubernetes.io/managed-by': 'helm' } }), 'labelled app.kubernetes.io/managed-by=pullgate'],
      ['type Opaque', secret(SECRET_NAME, ns, { type: 'Opaque', labels: MANAGED, data: { x: DATA } }), 'pullgate may only write Secrets of type kubernetes.io/dockerconfigjson, not Opaque'],
      ["the pull secret in pullgate's own namespace", secret(SECRET_NAME, OWN_NAMESPACE, { labels: MANAGED }), `pullgate may only write the Secret named ${CA_SECRET}, not "${SECRET_NAME}"`],
      ["the CA Secret's name with another type", secret(CA_SECRET, OWN_NAMESPACE, { labels: MANAGED }), 'pullgate may only write Secrets of type kubernetes.io/tls, not kubernetes.io/dockerconfigjson'],
    ];
    for (const [what, manifest, message] of cases) expectRefused(await pullgate(['create', '-f', '-'], manifest), message, what);
    expect(await exists('other-registry', ns)).toBe(false);
    expect(await exists(SECRET_NAME, ns)).toBe(false);
  });

  it("never takes over or deletes someone else's Secret of the pull secret's name", async () => {
    // An administrator's Secret of that name, unmanaged.
    await client.kubectl(['create', '-f', '-'], { input: secret(SECRET_NAME, other) });
    const before = await getJson(client, ['secret', SECRET_NAME, '-n', other]);

    const takeover = secret(SECRET_NAME, other, { labels: MANAGED, data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } });
    expectRefused(await pullgate(['replace', '-f', '-'], takeover), 'pullgate may only update or delete a Secret that is already labelled app.kubernetes.io/managed-by=pullgate');
    expectRefused(await pullgate(['delete', 'secret', SECRET_NAME, '-n', other]), 'pullgate may only update or delete a Secret that is already labelled');

    const after = await getJson(client, ['secret', SECRET_NAME, '-n', other]);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.metadata.labels).toBeUndefined();
  });

  it('creates, updates and deletes the managed pull secret in an ordinary namespace', async () => {
    const created = await pullgate(['create', '-f', '-'], secret(SECRET_NAME, ns, { labels: MANAGED }));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);

    const newData = Buffer.from('{"auths":{"proxy.example.com":{"auth":"bmV3"}}}').toString('base64');
    const updated = await pullgate(['replace', '-f', '-'], secret(SECRET_NAME, ns, { labels: { ...MANAGED, extra: 'kept' }, data: { '.dockerconfigjson': newData } }));
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    const stored = await getJson(client, ['secret', SECRET_NAME, '-n', ns]);
    expect(stored.data['.dockerconfigjson']).toBe(newData);
    expect(stored.metadata.labels).toEqual({ ...MANAGED, extra: 'kept' });

    // Dropping the label on an update is refused too: a managed secret stays recognisably managed.
    expectRefused(await pullgate(['replace', '-f', '-'], secret(SECRET_NAME, ns)), 'labelled app.kubernetes.io/managed-by=pullgate');

    const deleted = await pullgate(['delete', 'secret', SECRET_NAME, '-n', ns, '--wait=false']);
    expect(deleted.code).toBe(0);
    expect(await exists(SECRET_NAME, ns)).toBe(false);
  });

  it('applies only to pullgate: an administrator still writes any Secret', async () => {
    const out = await client.kubectl(['create', '--dry-run=server', '-f', '-'], { input: secret('other-registry', ns, { type: 'Opaque', data: { x: DATA } }) });
    expect(out.code).toBe(0);
  });
});
