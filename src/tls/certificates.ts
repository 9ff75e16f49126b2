// X.509 material: a CA, serving certificates and client certificates, for self-managed TLS, local
// serving (`npm run certs`), the test control plane and tests. Keys come from node:crypto (native
// RSA generation takes milliseconds; node-forge's pure-JS generation takes seconds per 2048-bit
// key); node-forge only builds and signs the certificates, which node:crypto cannot do.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyPair {
  /** PKCS#1 PEM ("RSA PRIVATE KEY"): the one private-key format both forge and Go read. */
  privateKeyPem: string;
  /** SPKI PEM ("PUBLIC KEY"). */
  publicKeyPem: string;
}

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends CertAndKey {
  /** Signs a certificate for subjectKey with this CA. */
  issue(spec: IssueSpec): string;
}

interface IssueSpec {
  publicKeyPem: string;
  /** Default: the CA's own validity in days at creation (DEFAULT_VALIDITY_DAYS). */
  validityMs?: number;
  commonName: string;
  organizations?: string[];
  usage: 'server' | 'client';
  /** Hostnames and IP addresses for the subjectAltName extension (server certificates). */
  sans?: string[];
}

const DEFAULT_VALIDITY_DAYS = 7;
const DAY_MS = 24 * 3600_000;

export function generateRsaKeyPair(bits = 2048): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

// Go rejects negative serial numbers; a leading 0x01 byte keeps the DER integer positive.
function serialNumber(): string {
  return '01' + randomBytes(15).toString('hex');
}

function baseCertificate(publicKeyPem: string, subject: forge.pki.CertificateField[], validityMs: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  // Backdated a minute so a freshly issued certificate is valid despite small clock skew.
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + validityMs);
  cert.setSubject(subject);
  return cert;
}

function subjectOf(commonName: string, organizations: string[] = []): forge.pki.CertificateField[] {
  // One attribute per group: the API server maps every O of a client certificate to a group.
  return [
    ...organizations.map((o) => ({ name: 'organizationName', value: o })),
    { name: 'commonName', value: commonName },
  ];
}

function altNames(sans: string[]): { type: number; value?: string; ip?: string }[] {
  // GeneralName types: 2 = dNSName, 7 = iPAddress.
  return sans.map((s) => (isIP(s) ? { type: 7, ip: s } : { type: 2, value: s }));
}

export function createCertificateAuthority(commonName = 'pullgate-ca', validityDays = DEFAULT_VALIDITY_DAYS): CertificateAuthority {
  const keys = generateRsaKeyPair();
  const subject = subjectOf(commonName);
  const cert = baseCertificate(keys.publicKeyPem, subject, validityDays * DAY_MS);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const caKey = forge.pki.privateKeyFromPem(keys.privateKeyPem);
  cert.sign(caKey, forge.md.sha256.create());
  return authority(cert, caKey, keys.privateKeyPem, validityDays * DAY_MS);
}

/**
 * A CA from its PEM certificate and PKCS#1 or PKCS#8 RSA key (as stored in a Secret), to issue
 * from. The caller checks first that they belong together (ca-material.ts).
 */
export function loadCertificateAuthority(certPem: string, keyPem: string): CertificateAuthority {
  const cert = forge.pki.certificateFromPem(certPem);
  const caKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return authority(cert, caKey, keyPem, DEFAULT_VALIDITY_DAYS * DAY_MS);
}

function authority(cert: forge.pki.Certificate, caKey: forge.pki.rsa.PrivateKey, keyPem: string, defaultValidityMs: number): CertificateAuthority {
  const issue = (spec: IssueSpec): string => {
    const leaf = baseCertificate(spec.publicKeyPem, subjectOf(spec.commonName, spec.organizations), spec.validityMs ?? defaultValidityMs);
    leaf.setIssuer(cert.subject.attributes);
    const extensions: object[] = [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      spec.usage === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: cert.generateSubjectKeyIdentifier().getBytes() },
    ];
    if (spec.sans && spec.sans.length > 0) extensions.push({ name: 'subjectAltName', altNames: altNames(spec.sans) });
    leaf.setExtensions(extensions);
    leaf.sign(caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(leaf);
  };
  return { certPem: forge.pki.certificateToPem(cert), keyPem, issue };
}

/** A serving certificate for exactly `sans` (DNS names and IP addresses), valid for `validityMs`. */
export function issueServerCertificate(ca: CertificateAuthority, sans: string[], commonName: string, validityMs?: number): CertAndKey {
  const keys = generateRsaKeyPair();
  const certPem = ca.issue({ publicKeyPem: keys.publicKeyPem, commonName, usage: 'server', sans: [...new Set(sans)], ...(validityMs !== undefined ? { validityMs } : {}) });
  return { certPem, keyPem: keys.privateKeyPem };
}

/** A TLS serving certificate for 127.0.0.1 and localhost (Go matches IP hosts against IP SANs only). */
export function issueServingCert(ca: CertificateAuthority, extraSans: string[] = [], commonName = 'localhost'): CertAndKey {
  return issueServerCertificate(ca, ['127.0.0.1', 'localhost', ...extraSans], commonName);
}

/** A client certificate: the API server reads CN as the user name and each O as a group. */
export function issueClientCert(ca: CertificateAuthority, user: string, groups: string[] = []): CertAndKey {
  const keys = generateRsaKeyPair();
  return {
    certPem: ca.issue({ publicKeyPem: keys.publicKeyPem, commonName: user, organizations: groups, usage: 'client' }),
    keyPem: keys.privateKeyPem,
  };
}
