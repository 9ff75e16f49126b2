import { describeCertificate, parsePemCertificates, trustAnchor } from '../certificates.ts';
import { result, type CheckResult } from '../check.ts';
import type { ServingCertificateFacts, WebhookFacts } from '../facts.ts';

const FIX_MISMATCH =
  "put the CA of pullgate's serving certificate in the webhook's caBundle: with cert-manager, check its cainjector and the cert-manager.io/inject-ca-from annotation; with self-managed TLS, pullgate puts it back itself (check it is running); with certificates from files, set the chart's tls.caBundle";

/** Every webhook has a caBundle, and it verifies the serving certificate pullgate presents. */
export function checkCaBundle(webhook: WebhookFacts, serving: ServingCertificateFacts, now: Date): CheckResult {
  if (!webhook.live) return result('ca-bundle', 'warn', `not checked: MutatingWebhookConfiguration ${webhook.name} was not found`);
  const chain = serving.chainPem ? serving.chainPem.flatMap((pem) => parsePemCertificates(pem).certs) : [];
  const [leaf] = chain;
  const faults: string[] = [];
  const notes: string[] = [];
  for (const hook of webhook.live.webhooks ?? []) {
    const bundle = hook.clientConfig?.caBundle;
    if (!bundle) {
      faults.push(`webhook ${hook.name} has no caBundle: the API server cannot verify pullgate and every call fails`);
      continue;
    }
    const { certs, unparsable } = parsePemCertificates(Buffer.from(bundle, 'base64').toString('utf8'));
    if (certs.length === 0) {
      faults.push(`webhook ${hook.name}: caBundle holds no readable PEM certificate${unparsable ? ` (${unparsable} unreadable)` : ''}`);
      continue;
    }
    if (!leaf) {
      notes.push(`webhook ${hook.name}: caBundle holds ${certs.map(describeCertificate).join(', ')}`);
      continue;
    }
    const anchor = trustAnchor(leaf, chain, certs);
    if (!anchor) {
      faults.push(`webhook ${hook.name}: caBundle (${certs.map(describeCertificate).join(', ')}) does not verify the serving certificate ${describeCertificate(leaf)}, issued by "${leaf.issuer.replace(/\n/g, ', ')}"`);
    } else if (new Date(anchor.validTo).getTime() <= now.getTime()) {
      faults.push(`webhook ${hook.name}: the CA ${describeCertificate(anchor)} in caBundle expired at ${new Date(anchor.validTo).toISOString()}`);
    } else if (anchor !== leaf && !anchor.ca) {
      notes.push(`webhook ${hook.name}: ${describeCertificate(anchor)} signs the serving certificate but is not marked as a CA`);
    }
  }
  if (faults.length > 0) return result('ca-bundle', 'fail', "the webhook's caBundle does not let the API server verify pullgate", [...faults, ...notes], FIX_MISMATCH);
  if (!leaf) {
    return result(
      'ca-bundle',
      'warn',
      `caBundle holds certificates, but it was not verified: the serving certificate was not found (${serving.error ?? serving.source})`,
      notes,
      'pass --namespace with pullgate\'s namespace, so doctor finds the TLS Secret its Deployment mounts',
    );
  }
  return result('ca-bundle', notes.length > 0 ? 'warn' : 'ok', `caBundle verifies the serving certificate from ${serving.source}`, notes);
}
