import { mutationPolicy } from '../admission/policy.ts';
import { rewriteImage } from '../image/rewrite.ts';
import { namespaceScope } from '../k8s/namespace-scope.ts';
import { webhookConfiguration } from '../k8s/webhook-configuration.ts';
import { acceptableMatchConditions } from '../k8s/webhook-match-conditions.ts';
import type { CheckResult } from './check.ts';
import { checkCaBundle } from './checks/ca-bundle.ts';
import { checkConfiguration } from './checks/configuration.ts';
import { checkInstallGuard } from './checks/install-guard.ts';
import { checkLicense } from './checks/license.ts';
import { checkProbe, type ProbeExpectation } from './checks/probe.ts';
import { checkPullSecrets } from './checks/pull-secrets.ts';
import { checkServingCertificate } from './checks/serving-certificate.ts';
import { checkWebhookConfiguration } from './checks/webhook-configuration.ts';
import type { DoctorFacts } from './facts.ts';

/** Every check, in the order of CHECK_IDS. */
export function evaluate(facts: DoctorFacts): CheckResult[] {
  const { installation: inst, now } = facts;
  // Rendered as pullgate's own tooling renders it; clientConfig is the installation's business.
  // The match condition has one right rendering, or two when the proxy domain comes from the
  // license (the chart renders the broader one when it cannot read the license).
  const conditions = inst.config ? acceptableMatchConditions(inst.config, inst.licenseProxyDomains) : [];
  const expectedWebhook = inst.config
    ? webhookConfiguration(namespaceScope(inst.config.namespaces, facts.ownNamespace), { name: facts.webhook.name, clientConfig: {}, matchConditions: conditions[0]! })
    : undefined;
  let probe: ProbeExpectation | undefined;
  if (inst.config && inst.settings && facts.probe.image !== undefined) {
    const outcome = rewriteImage(facts.probe.image, mutationPolicy(inst.config, inst.settings).rewrite);
    if (outcome.kind === 'rewritten') probe = { image: outcome.image, pullSecretName: inst.settings.pullSecretName };
  }
  return [
    checkConfiguration(inst),
    checkLicense(inst, now),
    checkWebhookConfiguration(facts.webhook, expectedWebhook, conditions),
    checkInstallGuard(facts.installGuard, facts.ownNamespace),
    checkCaBundle(facts.webhook, facts.servingCertificate, now),
    checkServingCertificate(facts.servingCertificate, now),
    checkPullSecrets(facts.pullSecrets, facts.ownNamespace),
    checkProbe(facts.probe, probe),
  ];
}
