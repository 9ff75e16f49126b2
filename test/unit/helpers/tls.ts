// A throwaway CA and a serving certificate for 127.0.0.1/localhost, written to a directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, issueServingCert } from '../../../src/tls/certificates.ts';

export interface TlsFixture {
  caPem: string;
  certPem: string;
  keyPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Generates a CA and a serving certificate (SANs: IP 127.0.0.1, DNS localhost) into `dir`. */
export function generateTls(dir: string): TlsFixture {
  const ca = createCertificateAuthority('pullgate-unit-test-ca', 1);
  const leaf = issueServingCert(ca);
  const fixture = {
    caPem: ca.certPem,
    certPem: leaf.certPem,
    keyPem: leaf.keyPem,
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  };
  writeFileSync(fixture.caFile, fixture.caPem);
  writeFileSync(fixture.certFile, fixture.certPem);
  writeFileSync(fixture.keyFile, fixture.keyPem, { mode: 0o600 });
  return fixture;
}
