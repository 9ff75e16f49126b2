import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, and the blocks that did not parse. */
export function parsePemCertificates(pem: string): { certs: X509Certificate[]; unparsable: number } {
  const certs: X509Certificate[] = [];
  let unparsable = 0;
  for (const block of pem.match(PEM_BLOCK) ?? []) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      unparsable++;
    }
  }
  return { certs, unparsable };
}

/** A certificate as a person finds it: its subject's common name (or whole subject) and serial number. */
export function describeCertificate(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return `"${cn ?? cert.subject.replace(/\n/g, ', ')}" (serial ${cert.serialNumber.toLowerCase()})`;
}

/**
 * The certificate of `trusted` that vouches for `leaf`, following the intermediates in `chain` (as
 * a TLS client does with what the server sends): `leaf` itself when trusted directly, the trusted
 * issuer otherwise; undefined when `trusted` does not verify it.
 */
export function trustAnchor(leaf: X509Certificate, chain: readonly X509Certificate[], trusted: readonly X509Certificate[]): X509Certificate | undefined {
  const issued = (child: X509Certificate, parent: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = trusted.find((t) => t.fingerprint256 === current.fingerprint256 || issued(current, t));
    if (anchor) return anchor;
    const next = chain.find((c) => c !== current && c.fingerprint256 !== current.fingerprint256 && issued(current, c));
    if (!next) return undefined;
    current = next;
  }
  return undefined;
}

/** Whether `cert` is valid for `host`, a DNS name or an IP address, as the API server checks it. */
export function validForHost(cert: X509Certificate, host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) ? cert.checkIP(bare) !== undefined : cert.checkHost(bare, { subject: 'never' }) !== undefined;
}
