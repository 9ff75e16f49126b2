// `npm run certs`: a local CA and a serving certificate for 127.0.0.1/localhost in certs/, for
// running `pullgate serve` on a workstation (see certs/README.md). Valid for 30 days.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority, issueServingCert } from '../src/tls/certificates.ts';

const dir = fileURLToPath(new URL('../certs/', import.meta.url));
mkdirSync(dir, { recursive: true });
const ca = createCertificateAuthority('pullgate-local-ca', 30);
const serving = issueServingCert(ca, process.argv.slice(2), 'pullgate');
writeFileSync(`${dir}ca.crt`, ca.certPem);
writeFileSync(`${dir}tls.crt`, serving.certPem);
writeFileSync(`${dir}tls.key`, serving.keyPem, { mode: 0o600 });
console.log(`wrote ${dir}ca.crt, tls.crt, tls.key (SANs: 127.0.0.1, localhost${process.argv.length > 2 ? ', ' + process.argv.slice(2).join(', ') : ''})`);
