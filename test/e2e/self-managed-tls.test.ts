// Self-managed TLS on the real API server, with the RBAC and write guard the chart renders for its
// default (tls.mode self-managed) and nothing more: two pullgate processes starting at once in an
// empty namespace agree on one CA Secret, each serves its own certificate from it, they keep the
// CA in their webhook configuration's caBundle (and put it back when it is reset), and the API
// server calls both. Then, under a fixed-rate load trusting only that CA: serving certificates of
// 30 s renewed several times, and one process stopped with SIGTERM, with no failed request.
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KUBE_VERSION } from '../../scripts/render-deploy.ts';
import { validateConfig } from '../../src/config/schema.ts';
import { namespaceScope } from '../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../src/k8s/webhook-configuration.ts';
import type { ClusterClient } from '../cluster/client.ts';
import { eventually } from '../support/eventually.ts';
import { pod, review } from '../support/reviews.ts';
import { startAdmissionLoad, type AdmissionLoad } from './support/admission-load.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { logEntries } from './support/pullgate-log.ts';
import { PROXY, SECRET_NAME } from './support/scenario.ts';

const CHART = fileURLToPath(new URL('../../deploy/helm/pullgate', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const RELEASE = `tls-${suffix}`;
/** pullgate's own namespace: empty when the two processes start. */
const NAMESPACE = `pullgate-tls-${suffix}`;
/** The chart's name for the ServiceAccount, the webhook configuration and (with -ca) the CA Secret. */
const NAME = `${RELEASE}-pullgate`;
const CA_SECRET = `${NAME}-ca`;
const APP = `tls-app-${suffix}`;
const USER = `system:serviceaccount:${NAMESPACE}:${NAME}`;

const configYaml = (licenseFile: string) => `proxyDomain: ${PROXY}
appSlug: my-app
license:
  file: ${licenseFile}
privateRegistries: [quay.io/acme]
pullSecret:
  name: ${SECRET_NAME}
namespaces:
  application: ${APP}
`;

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The certificate a new TLS connection to 127.0.0.1:port is served, verified against `ca` alone. */
function servedCertificate(port: number, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (!peer) reject(new Error('no peer certificate'));
      else resolve(peer);
    });
    socket.on('error', reject);
  });
}

describe.skipIf(unavailable)('self-managed TLS', () => {
  let client: ClusterClient;
  let a: PullgateInstance | undefined;
  let b: PullgateInstance | undefined;
  let caPem: string;
  let load: AdmissionLoad | undefined;

  const admissionReview = (uid: string) => review(pod(`load-${uid.slice(0, 8)}`, [{ name: 'app', image: 'quay.io/acme/app:1' }], { namespace: APP }), { uid, namespace: APP, dryRun: true });

  beforeAll(async () => {
    client = e2e().client;
    for (const ns of [NAMESPACE, APP]) await client.kubectl(['create', 'namespace', ns]);
    await client.kubectl(['create', 'serviceaccount', NAME, '-n', NAMESPACE]);
    // The chart's RBAC and write guard for its default, self-managed TLS, for this release.
    const values = join(e2e().env.cluster!.dir, `self-managed-tls-${suffix}.yaml`);
    writeFileSync(values, JSON.stringify({ appSlug: 'my-app', privateRegistries: ['quay.io/acme'], pullSecret: { name: SECRET_NAME }, namespaces: { application: APP }, license: { existingSecret: 'unused' } }));
    const rendered = await client.helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, '--values', values, '--show-only', 'templates/rbac.yaml', '--show-only', 'templates/write-guard.yaml']);
    // The ServiceAccount exists already (created above, so a token can be made at once).
    await client.kubectl(['apply', '-f', '-'], { input: rendered.stdout });
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    await client.kubectl(['delete', 'mutatingwebhookconfiguration', NAME, '--ignore-not-found'], { allowFailure: true });
    await Promise.all([a?.stop(), b?.stop()]);
    await client.kubectl(['delete', 'clusterrole,clusterrolebinding', NAME, '--ignore-not-found'], { allowFailure: true });
    await client.kubectl(['delete', 'validatingadmissionpolicy,validatingadmissionpolicybinding', `${NAME}-write-guard`, '--ignore-not-found'], { allowFailure: true });
    await client.kubectl(['delete', 'namespace', NAMESPACE, APP, '--wait=false', '--ignore-not-found'], { allowFailure: true });
  }, 120_000);

  it("two processes starting at once against an empty namespace: one CA Secret, both serving certificates chain to it, the webhook's caBundle holds it (and gets it back), the API server calls both", async () => {
    expect((await client.kubectl(['get', 'secrets', '-n', NAMESPACE, '-o', 'name'])).stdout.trim()).toBe('');
    const start = (name: string) =>
      startPullgateInCluster(e2e().env.cluster!, client, {
        name: `${name}-${suffix}`,
        identity: { namespace: NAMESPACE, serviceAccount: NAME },
        selfManagedTls: { caSecret: CA_SECRET, webhookConfiguration: NAME, certValidity: '30s' },
        configYaml,
      });
    [a, b] = await Promise.all([start('a'), start('b')]);

    // One CA Secret, of its type and labelled as pullgate's; both processes use its CA.
    const secrets = (await getJson(client, ['secrets', '-n', NAMESPACE])).items;
    expect(secrets.map((s: { metadata: { name: string } }) => s.metadata.name)).toEqual([CA_SECRET]);
    expect(secrets[0].type).toBe('kubernetes.io/tls');
    expect(secrets[0].metadata.labels['app.kubernetes.io/managed-by']).toBe('pullgate');
    caPem = Buffer.from(secrets[0].data['tls.crt'], 'base64').toString('utf8');
    expect(new X509Certificate(caPem).ca).toBe(true);
    expect([fingerprint(a.ca), fingerprint(b.ca)]).toEqual([fingerprint(caPem), fingerprint(caPem)]);
    const created = [a, b].filter((p) => logEntries(p.logPath).some((e) => e['msg'] === 'CA Secret created'));
    expect(created.length).toBe(1);
    for (const p of [a, b]) expect(JSON.stringify(logEntries(p.logPath))).not.toContain('PRIVATE KEY');

    // Each serves its own certificate, which verifies against the CA alone (for 127.0.0.1).
    const [certA, certB] = await Promise.all([servedCertificate(a.port, caPem), servedCertificate(b.port, caPem)]);
    expect(certA.serialNumber).not.toBe(certB.serialNumber);
    for (const cert of [certA, certB]) {
      expect(cert.checkIssued(new X509Certificate(caPem))).toBe(true);
      expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
      // Short-lived, as asked: 30 s (backdated a minute for clock skew).
      expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThanOrEqual(30_000);
    }

    // One webhook configuration, one entry per process, registered without a caBundle: the
    // processes fill it in.
    const config = validateConfig((await import('yaml')).parse(configYaml('/unused')), undefined);
    const [template] = webhookConfiguration(namespaceScope(config.namespaces, NAMESPACE), { name: NAME, clientConfig: {}, failurePolicy: 'Fail' }).webhooks!;
    const configuration = {
      ...webhookConfiguration(namespaceScope(config.namespaces, NAMESPACE), { name: NAME, clientConfig: {} }),
      webhooks: [a, b].map((p, i) => ({ ...template!, name: `${'ab'[i]}.pods.pullgate.dev`, clientConfig: { url: `https://127.0.0.1:${p.port}/mutate` }, reinvocationPolicy: 'Never' })),
    };
    await client.kubectl(['apply', '-f', '-'], { input: stringify(configuration, { aliasDuplicateObjects: false }) });
    const bundles = async () => ((await getJson(client, ['mutatingwebhookconfiguration', NAME])).webhooks as Array<{ clientConfig: { caBundle?: string } }>).map((w) => w.clientConfig.caBundle);
    const holdsCa = async () => {
      const found = await bundles();
      return found.every((bundle) => bundle !== undefined && fingerprint(Buffer.from(bundle, 'base64').toString('utf8')) === fingerprint(caPem));
    };
    await eventually('the caBundle of both entries to hold the CA', holdsCa, { timeoutMs: 60_000, watch: [a.process, b.process] });

    // Reset by someone else (an apply of the manifest without it, say): put back.
    await client.kubectl(['patch', 'mutatingwebhookconfiguration', NAME, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/webhooks/0/clientConfig/caBundle' }])]);
    await eventually('the caBundle to be put back', holdsCa, { timeoutMs: 60_000, watch: [a.process, b.process] });

    // The API server calls both, verifying each serving certificate with that caBundle.
    const probe = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `probe-${suffix}`, namespace: APP }, spec: { containers: [{ name: 'c', image: 'quay.io/acme/probe:1' }] } });
    const called = (p: PullgateInstance) => logEntries(p.logPath).some((e) => e['msg'] === 'admission decided' && e['name'] === `probe-${suffix}`);
    const admitted = await eventually('the API server to call both processes', async () => {
      const out = await client.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: probe, allowFailure: true });
      return called(a!) && called(b!) && out.code === 0 ? JSON.parse(out.stdout) : undefined;
    }, { timeoutMs: 60_000, watch: [a.process, b.process] });
    expect(admitted.spec.containers[0].image).toBe(`${PROXY}/proxy/my-app/quay.io/acme/probe:1`);
  }, 240_000);

  it('proves least privilege: its identity may read only its CA Secret and keep only its own webhook configuration; the write guard refuses any other Secret write in its namespace', async () => {
    const can = async (...args: string[]) => (await client.kubectl(['auth', 'can-i', ...args, `--as=${USER}`], { allowFailure: true })).stdout.trim();
    expect(await can('get', `secret/${CA_SECRET}`, '-n', NAMESPACE)).toBe('yes');
    expect(await can('update', `secret/${CA_SECRET}`, '-n', NAMESPACE)).toBe('no');
    expect(await can('delete', `secret/${CA_SECRET}`, '-n', NAMESPACE)).toBe('no');
    expect(await can('get', 'secret/another', '-n', NAMESPACE)).toBe('no');
    expect(await can('update', `mutatingwebhookconfiguration/${NAME}`)).toBe('yes');
    expect(await can('watch', `mutatingwebhookconfiguration/${NAME}`)).toBe('yes');
    expect(await can('update', 'mutatingwebhookconfiguration/pullgate')).toBe('no');
    expect(await can('list', 'mutatingwebhookconfigurations')).toBe('no');

    const kubeconfig = await client.serviceAccountKubeconfig(NAMESPACE, NAME);
    const secret = (name: string, type: string, data: Record<string, string>) =>
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'pullgate' } }, type, data });
    const tls = { 'tls.crt': Buffer.from(caPem).toString('base64'), 'tls.key': Buffer.from('not a key').toString('base64') };
    const policy = `ValidatingAdmissionPolicy '${NAME}-write-guard'`;
    const refused = async (manifest: string, message: string) => {
      const out = await eventually(`a refusal by ${policy}`, async () => {
        const result = await client.kubectl(['create', '--dry-run=server', '-f', '-'], { kubeconfig, input: manifest, allowFailure: true });
        return result.stderr.includes(policy) ? result : undefined;
      }, 60_000);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain(message);
    };
    await refused(secret('another-ca', 'kubernetes.io/tls', tls), `pullgate may only write the Secret named ${CA_SECRET}, not "another-ca"`);
    await refused(secret(CA_SECRET, 'Opaque', tls), 'pullgate may only write Secrets of type kubernetes.io/tls, not Opaque');
    // Its own CA Secret exists: replacing it is refused (the guard, before RBAC's missing update, would say so too).
    const replaced = await client.kubectl(['replace', '-f', '-'], { kubeconfig, input: secret(CA_SECRET, 'kubernetes.io/tls', tls), allowFailure: true });
    expect(replaced.code).not.toBe(0);
    expect(replaced.stderr).toMatch(/forbidden/i);
    expect(replaced.stderr).not.toContain(tls['tls.key']);
  }, 120_000);

  it('renews the serving certificates (30 s validity) under a fixed-rate load trusting only the CA, with no failed request', async () => {
    const [pa, pb] = [a!, b!];
    load = startAdmissionLoad({ targets: [{ name: 'a', port: pa.port }, { name: 'b', port: pb.port }], ca: caPem, ratePerSecond: 20, review: admissionReview });
    // Three certificates seen on fresh connections to each process: the first and two renewals.
    const seen = () => [...load!.stats.serials].map(([name, serials]) => `${name}: ${serials.size}`).join(', ');
    await eventually('two renewals of each serving certificate, seen by the client', () => [...load!.stats.serials.values()].every((s) => s.size >= 3), {
      timeoutMs: 150_000,
      intervalMs: 1_000,
      watch: [pa.process, pb.process],
    }).catch((err: Error) => {
      throw new Error(`${err.message} (certificates seen: ${seen()}; failures so far: ${load!.stats.failures.slice(0, 5).join('; ')})`);
    });
    const stats = await load.stop();
    load = undefined;
    expect(stats.failures).toEqual([]);
    expect(stats.moved).toBe(0);
    for (const name of ['a', 'b']) expect(stats.answered.get(name)).toBeGreaterThan(100);
    console.log(`[figure] renewal under load: ${[...stats.answered].map(([n, c]) => `${n} ${c} answers, ${stats.serials.get(n)!.size} certificates`).join('; ')}; 0 failed`);
    for (const p of [pa, pb]) {
      const renewals = logEntries(p.logPath).filter((e) => e['msg'] === 'serving certificate issued' && e['why'] === 'renewal');
      expect(renewals.length, p.name).toBeGreaterThanOrEqual(2);
    }
  }, 240_000);

  it('stops one process with SIGTERM under load: it finishes what it has, the client moves to the other, no failed request', async () => {
    const [pa, pb] = [a!, b!];
    load = startAdmissionLoad({ targets: [{ name: 'a', port: pa.port }, { name: 'b', port: pb.port }], ca: caPem, ratePerSecond: 20, review: admissionReview, freshEvery: 4 });
    await eventually('load on both processes', () => load!.stats.answered.get('a')! >= 40 && load!.stats.answered.get('b')! >= 40, { timeoutMs: 60_000, watch: [pa.process, pb.process] });
    // A review in flight when the signal arrives: its headers are in (the server answered 100
    // Continue), half its body is sent; the rest follows once the process is shutting down.
    const body = JSON.stringify(admissionReview('0f0f0f0f-in-flight-during-sigterm'));
    let answer!: Promise<{ status: number; connection: string | undefined; allowed: boolean }>;
    const inFlight = request({ host: '127.0.0.1', port: pa.port, method: 'POST', path: '/mutate', ca: caPem, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' } });
    const continued = new Promise<void>((resolve, reject) => {
      inFlight.once('continue', resolve);
      inFlight.once('error', reject);
      answer = new Promise((resolveAnswer, rejectAnswer) => {
        inFlight.once('response', (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, connection: res.headers.connection, allowed: JSON.parse(Buffer.concat(parts).toString('utf8')).response?.allowed === true }));
          res.on('error', rejectAnswer);
        });
        inFlight.once('error', rejectAnswer);
      });
    });
    inFlight.flushHeaders();
    await continued;
    inFlight.write(body.slice(0, body.length / 2));
    // As in a cluster: the terminating Pod leaves the endpoints (the chart's preStop sleep covers
    // that) before it is signalled; pooled connections to it stay in use until it closes them.
    load.withdraw('a');
    const stopped = pa.process.stop(30_000);
    await eventually('the process to begin shutting down', () => logEntries(pa.logPath).some((e) => e['msg'] === 'shutting down'), { timeoutMs: 30_000, files: [pa.logPath] });
    inFlight.end(body.slice(body.length / 2));
    expect(await answer).toEqual({ status: 200, connection: 'close', allowed: true });
    await stopped;
    expect(await pa.process.exited).toBe(0);
    const answeredByB = load.stats.answered.get('b')!;
    await eventually('the load to go on against the other process', () => load!.stats.answered.get('b')! >= answeredByB + 60, { timeoutMs: 60_000, watch: [pb.process] });
    const stats = await load.stop();
    load = undefined;
    expect(stats.failures).toEqual([]);
    expect(stats.moved).toBeGreaterThan(0);
    expect(logEntries(pa.logPath).some((e) => e['msg'] === 'pullgate stopped')).toBe(true);
    console.log(`[figure] SIGTERM under load: a ${stats.answered.get('a')} answers (${stats.closing.get('a')} pooled with Connection: close) and the review in flight at the signal answered with Connection: close; b ${stats.answered.get('b')}, ${stats.moved} moved to b, ${stats.retried} sent again after a pooled connection was reset; 0 failed`);
  }, 240_000);
});
