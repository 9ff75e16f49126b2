// A throwaway CA and a serving certificate for 127.0.0.1/localhost, written to a directory.
// RSA keys come from node:crypto (milliseconds); node-forge only builds and signs the X.509
// certificates (its pure-JS key generation takes seconds).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsFixture {
  caPem: string;
  certPem: string;
  keyPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

function rsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

function certificate(publicKeyPem: string, commonName: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // A leading 01 keeps the DER integer positive.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  return cert;
}

/** Generates a CA and a serving certificate (SANs: IP 127.0.0.1, DNS localhost) into `dir`. */
export function generateTls(dir: string, sans: string[] = ['127.0.0.1', 'localhost']): TlsFixture {
  const caKeys = rsaKeyPair();
  const caKey = forge.pki.privateKeyFromPem(caKeys.privateKeyPem);
  const ca = certificate(caKeys.publicKeyPem, 'pullgate-unit-test-ca');
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey, forge.md.sha256.create());

  const leafKeys = rsaKeyPair();
  const leaf = certificate(leafKeys.publicKeyPem, 'localhost');
  leaf.setIssuer(ca.subject.attributes);
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    // GeneralName types: 2 = dNSName, 7 = iPAddress.
    { name: 'subjectAltName', altNames: sans.map((s) => (isIP(s) ? { type: 7, ip: s } : { type: 2, value: s })) },
  ]);
  leaf.sign(caKey, forge.md.sha256.create());

  const fixture = {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(leaf),
    keyPem: leafKeys.privateKeyPem,
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  };
  writeFileSync(fixture.caFile, fixture.caPem);
  writeFileSync(fixture.certFile, fixture.certPem);
  writeFileSync(fixture.keyFile, fixture.keyPem, { mode: 0o600 });
  return fixture;
}
