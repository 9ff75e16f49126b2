// Self-managed TLS without a cluster: what makes a Secret a usable CA, the race-safe creation of
// the CA Secret (create-if-absent; a 409 reads the winner's), its restoration after a deletion,
// the caBundle written only when it differs, and renewal at two thirds of the validity.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CaSecretError, compareCaSecret, obtainCa, type CaSecretOptions } from '../../../src/k8s/ca-secret.ts';
import { withCaBundle } from '../../../src/k8s/webhook-ca-bundle.ts';
import { caFromSecret, caSecretManifest, CA_SECRET_TYPE } from '../../../src/tls/ca-material.ts';
import { createCertificateAuthority, issueServerCertificate, issueServingCert } from '../../../src/tls/certificates.ts';
import { renewalTime, selfManagedTls } from '../../../src/tls/self-managed-tls.ts';
import { eventually } from '../../support/eventually.ts';
import { MemorySecrets } from '../k8s/memory-secrets.ts';
import { captureLogs } from '../helpers/logs.ts';

const NS = 'pullgate';
const NAME = 'pullgate-ca';
const DAY = 86_400_000;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const secretWith = (data: Record<string, string>): V1Secret => ({ metadata: { name: NAME, namespace: NS }, type: CA_SECRET_TYPE, data });

const ca = createCertificateAuthority('test-ca', 3650);

function options(api: MemorySecrets, generate = () => createCertificateAuthority('generated', 3650)): CaSecretOptions & { logs: ReturnType<typeof captureLogs> } {
  const logs = captureLogs();
  return { api, namespace: NS, name: NAME, generate, neededForMs: 7 * DAY, logger: logs.logger, logs };
}

/** The leaf verifies against the CA's public key. */
function chainsTo(leafPem: string, caPem: string): boolean {
  return new X509Certificate(leafPem).verify(new X509Certificate(caPem).publicKey);
}

describe('caFromSecret', () => {
  it('accepts a CA certificate with its RSA key, and issues serving certificates that chain to it', () => {
    const checked = caFromSecret(caSecretManifest(NAME, NS, ca), new Date(Date.now() + DAY));
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    const leaf = issueServerCertificate(checked.ca, ['pullgate.pullgate.svc'], 'pullgate.pullgate.svc', 60_000);
    expect(chainsTo(leaf.certPem, ca.certPem)).toBe(true);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subjectAltName).toBe('DNS:pullgate.pullgate.svc');
    // Valid for what was asked (backdated a minute for clock skew).
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it.each([
    ['no tls.crt', { 'tls.key': b64(ca.keyPem) }, 'has no tls.crt'],
    ['garbage', { 'tls.crt': b64('not a certificate'), 'tls.key': b64(ca.keyPem) }, 'tls.crt is not a PEM certificate'],
    ['a leaf, not a CA', { 'tls.crt': b64(issueServingCert(ca).certPem), 'tls.key': b64(ca.keyPem) }, 'is not a CA certificate'],
    ['another key', { 'tls.crt': b64(ca.certPem), 'tls.key': b64(createCertificateAuthority('other').keyPem) }, 'tls.key does not belong to tls.crt'],
    ['an EC key', { 'tls.crt': b64(ca.certPem), 'tls.key': b64(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) }, 'is a ec key'],
  ])('refuses %s, naming the problem and no key material', (_, data, problem) => {
    const checked = caFromSecret(secretWith(data), new Date());
    expect(checked).toEqual({ ok: false, problem: expect.stringContaining(problem) });
    expect(JSON.stringify(checked)).not.toContain('PRIVATE KEY');
  });

  it('refuses a CA that expires before a certificate issued now would', () => {
    const shortLived = createCertificateAuthority('short', 1);
    expect(caFromSecret(caSecretManifest(NAME, NS, shortLived), new Date(Date.now() + 2 * DAY))).toEqual({ ok: false, problem: expect.stringContaining('expires') });
  });
});

describe('obtainCa', () => {
  it('creates the Secret when there is none, labelled as managed and of type kubernetes.io/tls', async () => {
    const api = new MemorySecrets();
    const o = options(api);
    const { ca: obtained, created } = await obtainCa(o);
    expect(created).toBe(true);
    const stored = api.get(NS, NAME)!;
    expect(stored.type).toBe('kubernetes.io/tls');
    expect(stored.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('pullgate');
    expect(Buffer.from(stored.data!['tls.crt']!, 'base64').toString()).toBe(obtained.certPem);
    expect(o.logs.text()).not.toContain('PRIVATE KEY');
  });

  it('reads the winner\'s CA when its create loses the race (409), and both replicas hold the same CA', async () => {
    const api = new MemorySecrets();
    const winner = createCertificateAuthority('winner', 3650);
    // Another replica creates the Secret between this one's read and its create.
    api.before = (call) => {
      if (call.op === 'create' && !api.get(NS, NAME)) api.put(caSecretManifest(NAME, NS, winner));
    };
    const { ca: obtained, created } = await obtainCa(options(api));
    expect(created).toBe(false);
    expect(api.ops()).toEqual(['read', 'create', 'read']);
    expect(obtained.certPem.replace(/\r/g, '')).toBe(winner.certPem.replace(/\r/g, ''));
  });

  it('uses an existing valid CA Secret, whoever made it, without writing', async () => {
    const api = new MemorySecrets();
    api.put({ ...secretWith({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) }) });
    const { ca: obtained } = await obtainCa(options(api));
    expect(chainsTo(issueServingCert(obtained).certPem, ca.certPem)).toBe(true);
    expect(api.ops()).toEqual(['read']);
  });

  it('never overwrites a Secret of that name that is no CA: a clear error instead', async () => {
    const api = new MemorySecrets();
    api.put(secretWith({ 'tls.crt': b64('garbage'), 'tls.key': b64('more garbage') }));
    await expect(obtainCa(options(api))).rejects.toThrow(new CaSecretError(NS, NAME, 'tls.crt is not a PEM certificate'));
    expect(api.ops()).toEqual(['read']);
  });
});

describe('compareCaSecret', () => {
  it('puts a deleted CA Secret back with the CA in use; sees the same CA as the same; follows another valid CA', async () => {
    const api = new MemorySecrets();
    const o = options(api);
    expect(await compareCaSecret(o, ca)).toEqual({ state: 'restored' });
    expect(caFromSecret(api.get(NS, NAME)!, new Date()).ok).toBe(true);
    expect(await compareCaSecret(o, ca)).toEqual({ state: 'same' });
    const next = createCertificateAuthority('next', 3650);
    api.put(caSecretManifest(NAME, NS, next));
    const changed = await compareCaSecret(o, ca);
    expect(changed.state).toBe('changed');
  });
});

describe('withCaBundle', () => {
  const configuration = (bundles: Array<string | undefined>): V1MutatingWebhookConfiguration => ({
    metadata: { name: 'pullgate', resourceVersion: '7' },
    webhooks: bundles.map((caBundle, i) => ({ name: `w${i}.pullgate.dev`, admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { url: `https://127.0.0.1:${8000 + i}/mutate`, ...(caBundle ? { caBundle } : {}) } })),
  });

  it('sets the CA on every entry, keeping the resourceVersion for a conditional update', () => {
    const updated = withCaBundle(configuration([undefined, 'b2xk']), 'bmV3')!;
    expect(updated.metadata?.resourceVersion).toBe('7');
    expect(updated.webhooks!.map((w) => w.clientConfig.caBundle)).toEqual(['bmV3', 'bmV3']);
    expect(updated.webhooks!.map((w) => w.clientConfig.url)).toEqual(['https://127.0.0.1:8000/mutate', 'https://127.0.0.1:8001/mutate']);
  });

  it('writes nothing when every entry holds it already', () => {
    expect(withCaBundle(configuration(['bmV3', 'bmV3']), 'bmV3')).toBeUndefined();
  });
});

describe('selfManagedTls', () => {
  it('renews at two thirds of the validity', () => {
    expect(renewalTime(1_000, 30_000)).toBe(21_000);
  });

  it('is not ready until it has a certificate, retries while the CA cannot be had, then serves and renews from it', async () => {
    const logs = captureLogs();
    const issued: string[] = [];
    const cas: string[] = [];
    let failures = 2;
    const tls = selfManagedTls({
      obtainCa: async () => {
        if (failures-- > 0) throw new CaSecretError(NS, NAME, 'has no tls.crt');
        return ca;
      },
      checkCa: async () => ({ state: 'same' }),
      sans: ['pullgate.pullgate.svc'],
      validityMs: 1_500,
      onCertificate: (m) => issued.push(m.cert.toString()),
      onCa: (pem) => cas.push(pem),
      logger: logs.logger,
      retryMs: { first: 20, max: 50 },
    });
    expect(tls.ready()).toBe(false);
    tls.start();
    try {
      await eventually('a serving certificate', () => tls.ready(), { timeoutMs: 10_000 });
      expect(cas).toEqual([ca.certPem]);
      // Renewed without a restart, each one from the CA.
      await eventually('two renewals', () => issued.length >= 3, { timeoutMs: 15_000 });
      for (const pem of issued) expect(chainsTo(pem, ca.certPem)).toBe(true);
      expect(new Set(issued).size).toBe(issued.length);
      expect(logs.text()).toContain('has no tls.crt');
      expect(logs.text()).not.toContain('PRIVATE KEY');
    } finally {
      tls.stop();
    }
  });
});
