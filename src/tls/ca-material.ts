// The self-managed CA as a Secret holds it: what makes the Secret's content a CA pullgate can issue
// from, and the Secret pullgate creates. Problems name what is wrong, never any key material.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';
import { loadCertificateAuthority, type CertificateAuthority } from './certificates.ts';

/** The Secret type, so `kubectl get secret` shows what it is and the write guard can insist on it. */
export const CA_SECRET_TYPE = 'kubernetes.io/tls';
const CERT_KEY = 'tls.crt';
const KEY_KEY = 'tls.key';

export type CaCheck = { ok: true; ca: CertificateAuthority; notAfter: Date } | { ok: false; problem: string };

/**
 * The CA in a Secret's data, if it is one pullgate can issue from until at least `neededUntil`:
 * a parsable CA certificate (basicConstraints CA:true) with its RSA private key.
 */
export function caFromSecret(secret: V1Secret, neededUntil: Date): CaCheck {
  const data = secret.data ?? {};
  const certB64 = data[CERT_KEY];
  const keyB64 = data[KEY_KEY];
  if (!certB64 || !keyB64) return { ok: false, problem: `has no ${!certB64 ? CERT_KEY : KEY_KEY}` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(certB64, 'base64'));
  } catch {
    return { ok: false, problem: `${CERT_KEY} is not a PEM certificate` };
  }
  if (!cert.ca) return { ok: false, problem: `${CERT_KEY} is not a CA certificate (basicConstraints CA:true)` };
  const keyPem = Buffer.from(keyB64, 'base64').toString('utf8');
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return { ok: false, problem: `${KEY_KEY} is not a PEM private key` };
  }
  if (key.asymmetricKeyType !== 'rsa') return { ok: false, problem: `${KEY_KEY} is a ${key.asymmetricKeyType ?? 'unknown'} key; pullgate issues with RSA keys only` };
  if (!cert.checkPrivateKey(key)) return { ok: false, problem: `${KEY_KEY} does not belong to ${CERT_KEY}` };
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() < neededUntil.getTime()) return { ok: false, problem: `the CA expires ${notAfter.toISOString()}, before a serving certificate issued now would` };
  return { ok: true, ca: loadCertificateAuthority(cert.toString(), keyPem), notAfter };
}

/** The CA Secret pullgate creates when there is none: labelled as managed, so the write guard lets it create it. */
export function caSecretManifest(name: string, namespace: string, ca: CertificateAuthority): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'app.kubernetes.io/name': 'pullgate' } },
    type: CA_SECRET_TYPE,
    data: { [CERT_KEY]: Buffer.from(ca.certPem).toString('base64'), [KEY_KEY]: Buffer.from(ca.keyPem).toString('base64') },
  };
}

/** SHA-256 fingerprint of a certificate, to tell two CAs apart whatever their PEM line endings. */
export function fingerprintOf(certPem: string | Buffer): string | undefined {
  try {
    return new X509Certificate(certPem).fingerprint256;
  } catch {
    return undefined;
  }
}

/** Fingerprint of the CA certificate a Secret holds, if it holds one. */
export function caFingerprintOf(secret: V1Secret): string | undefined {
  const b64 = secret.data?.[CERT_KEY];
  return b64 ? fingerprintOf(Buffer.from(b64, 'base64')) : undefined;
}
