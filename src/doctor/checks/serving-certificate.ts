import { describeCertificate, parsePemCertificates, validForHost } from '../certificates.ts';
import { result, type CheckResult } from '../check.ts';
import type { ServingCertificateFacts } from '../facts.ts';

/**
 * A serving certificate with less than this share of its lifetime left is reported as a warning:
 * issuers renew well before (cert-manager at a third left, pullgate's own TLS earlier still), so
 * one this close to its end was not renewed. A share, not a number of days, so short-lived
 * certificates are not always "about to expire".
 */
export const CERTIFICATE_RENEWAL_OVERDUE_SHARE = 0.2;
const DAY_MS = 24 * 3600_000;

/** The serving certificate is valid now, for the host the API server calls, and not about to expire. */
export function checkServingCertificate(facts: ServingCertificateFacts, now: Date): CheckResult {
  const leaf = facts.chainPem ? parsePemCertificates(facts.chainPem[0] ?? '').certs[0] : undefined;
  if (!leaf) {
    return result(
      'serving-certificate',
      'warn',
      `serving certificate not checked: ${facts.error ?? `none found in ${facts.source}`}`,
      [],
      "pass --namespace with pullgate's namespace, so doctor finds the TLS Secret its Deployment mounts",
    );
  }
  const name = `serving certificate ${describeCertificate(leaf)} from ${facts.source}`;
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  const renew = 'renew it: with cert-manager, check the Certificate and its issuer (kubectl describe certificate); with self-managed TLS, pullgate renews it itself (check it is running); pullgate reloads a renewed certificate without a restart';
  if (notAfter.getTime() <= now.getTime()) return result('serving-certificate', 'fail', `${name} expired at ${notAfter.toISOString()}`, ['the API server refuses to call pullgate'], renew);
  if (notBefore.getTime() > now.getTime()) return result('serving-certificate', 'fail', `${name} is not valid before ${notBefore.toISOString()}`, ['check the clocks of the issuer and the API server'], renew);
  if (facts.host !== undefined && !validForHost(leaf, facts.host)) {
    return result('serving-certificate', 'fail', `${name} is not valid for ${facts.host}, the host the API server calls`, [`subject alternative names: ${leaf.subjectAltName ?? 'none'}`], 'issue it for the Service DNS name <service>.<namespace>.svc');
  }
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  const lifetime = notAfter.getTime() - notBefore.getTime();
  if (notAfter.getTime() - now.getTime() < lifetime * CERTIFICATE_RENEWAL_OVERDUE_SHARE) return result('serving-certificate', 'warn', `${name} expires at ${notAfter.toISOString()}, in ${daysLeft} day(s)`, [], renew);
  return result('serving-certificate', 'ok', `${name} valid until ${notAfter.toISOString()}`);
}
