import type { V1MutatingWebhookConfiguration, V1MutatingWebhook, AdmissionregistrationV1WebhookClientConfig, V1LabelSelectorRequirement, V1MatchCondition } from '@kubernetes/client-node';
import { INJECT_LABEL, OPT_OUT_VALUE } from '../admission/labels.ts';
import type { NamespaceScope } from './namespace-scope.ts';

export interface WebhookConfigurationOptions {
  name?: string;
  clientConfig: AdmissionregistrationV1WebhookClientConfig;
  /**
   * While pullgate is unreachable: `Fail` (default) refuses the Pods the match conditions send it,
   * which cannot pull without it anyway, and their controllers retry; `Ignore` admits them unchanged.
   */
  failurePolicy?: 'Ignore' | 'Fail';
  timeoutSeconds?: number;
  /** The prefilter (webhook-match-conditions.ts): only Pods it matches reach pullgate. None: every Pod in scope. */
  matchConditions?: V1MatchCondition[];
}

const NAME_LABEL = 'kubernetes.io/metadata.name';

function webhook(name: string, requirements: V1LabelSelectorRequirement[], matchLabels: Record<string, string> | undefined, o: WebhookConfigurationOptions): V1MutatingWebhook {
  return {
    name,
    clientConfig: o.clientConfig,
    admissionReviewVersions: ['v1', 'v1beta1'],
    sideEffects: 'NoneOnDryRun',
    failurePolicy: o.failurePolicy ?? 'Fail',
    matchPolicy: 'Equivalent',
    // Sidecars added by later webhooks are rewritten too.
    reinvocationPolicy: 'IfNeeded',
    timeoutSeconds: o.timeoutSeconds ?? 10,
    rules: [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['pods', 'pods/ephemeralcontainers'],
        scope: 'Namespaced',
      },
    ],
    namespaceSelector: { ...(matchLabels ? { matchLabels } : {}), matchExpressions: requirements },
    // Pods that opt out never reach pullgate at all.
    objectSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: 'NotIn', values: [OPT_OUT_VALUE] }] },
    ...(o.matchConditions ? { matchConditions: o.matchConditions } : {}),
  };
}

/**
 * The MutatingWebhookConfiguration for a namespace scope. The API server does the scoping, so
 * namespaces pullgate does not serve never wait on it (pullgate checks the same scope again itself):
 * - `pods.pullgate.dev` serves the configured namespaces (or all but the excluded ones for "*");
 * - `opt-in.pods.pullgate.dev` serves namespaces carrying the opt-in label, minus the configured
 *   ones, so no Pod is sent twice.
 */
export function webhookConfiguration(scope: NamespaceScope, options: WebhookConfigurationOptions): V1MutatingWebhookConfiguration {
  const excluded = [...scope.excluded];
  const configured = [...scope.configured];
  const webhooks: V1MutatingWebhook[] = [];
  if (scope.all) {
    webhooks.push(webhook('pods.pullgate.dev', [{ key: NAME_LABEL, operator: 'NotIn', values: excluded }], undefined, options));
  } else {
    if (configured.length > 0) {
      webhooks.push(webhook('pods.pullgate.dev', [{ key: NAME_LABEL, operator: 'In', values: configured }], undefined, options));
    }
    webhooks.push(
      webhook(
        'opt-in.pods.pullgate.dev',
        [{ key: NAME_LABEL, operator: 'NotIn', values: [...new Set([...excluded, ...configured])].sort() }],
        { [scope.optInLabel.key]: scope.optInLabel.value },
        options,
      ),
    );
  }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name ?? 'pullgate', labels: { 'app.kubernetes.io/name': 'pullgate', 'app.kubernetes.io/managed-by': 'pullgate' } },
    webhooks,
  };
}
