import type { V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { result, type CheckResult } from '../check.ts';
import type { WebhookFacts } from '../facts.ts';

/**
 * The fields of each webhook that the configuration decides, compared as data: whatever the
 * rendering (src/k8s/webhook-configuration.ts) provides for them — match conditions included —
 * must be what the API server holds. clientConfig, failurePolicy and timeoutSeconds are
 * installation choices, checked elsewhere or not at all.
 */
export const COMPARED_FIELDS = ['namespaceSelector', 'objectSelector', 'rules', 'matchConditions'] as const;

/**
 * A value in a form where equal meanings compare equal: object keys sorted; absent, null, empty
 * lists and empty mappings dropped (the API server defaults and prunes them); lists sorted, since
 * every list these fields hold is a set (rules, selector values, conditions).
 */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical).filter((v) => v !== undefined);
    if (items.length === 0) return undefined;
    return items.map((v) => [JSON.stringify(v), v] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  return value === null ? undefined : value;
}

const shown = (value: unknown) => JSON.stringify(canonical(value) ?? null);

/**
 * The compared fields of one webhook that differ, one line each. `alternatives` holds, per field,
 * other values the configuration also allows (the match condition rendered without the license).
 */
export function webhookDifferences(expected: V1MutatingWebhook, live: V1MutatingWebhook, alternatives: Partial<Record<ComparedField, readonly unknown[]>> = {}): string[] {
  return COMPARED_FIELDS.flatMap((field) => {
    const want = expected[field];
    const have = live[field];
    const allowed = [want, ...(alternatives[field] ?? [])].map(shown);
    return allowed.includes(shown(have)) ? [] : [`webhook ${expected.name}: ${field} is ${shown(have)}, the configuration gives ${shown(want)}`];
  });
}

type ComparedField = (typeof COMPARED_FIELDS)[number];

/** The webhook configuration exists and selects Pods as the configuration says. */
export function checkWebhookConfiguration(facts: WebhookFacts, expected: V1MutatingWebhookConfiguration | undefined, matchConditions: readonly unknown[] = []): CheckResult {
  const what = `MutatingWebhookConfiguration ${facts.name}`;
  if (facts.live === undefined) {
    return result('webhook-configuration', 'fail', `${what} could not be read`, facts.readError ? [facts.readError] : [], 'check that your kubeconfig may get mutatingwebhookconfigurations');
  }
  if (facts.live === null) {
    return result(
      'webhook-configuration',
      'fail',
      `${what} does not exist: the API server sends no Pod to pullgate`,
      [],
      'install it again (helm upgrade --install, or kubectl apply -f deploy/webhook.yaml); if it has another name, pass --webhook NAME',
    );
  }
  const liveHooks = facts.live.webhooks ?? [];
  if (!expected) return result('webhook-configuration', 'warn', `${what} exists with ${liveHooks.length} webhook(s); not compared, the configuration is not usable`);
  const details: string[] = [];
  for (const want of expected.webhooks ?? []) {
    const have = liveHooks.find((h) => h.name === want.name);
    if (!have) details.push(`webhook ${want.name} is missing: ${want.name.startsWith('opt-in') ? 'namespaces with the opt-in label' : 'the configured namespaces'} are not served`);
    else details.push(...webhookDifferences(want, have, { matchConditions }));
  }
  const extra = liveHooks.filter((h) => !(expected.webhooks ?? []).some((w) => w.name === h.name)).map((h) => `webhook ${h.name} is not one the configuration gives`);
  const fix = 'render the webhook configuration from the current configuration (helm upgrade with the same values as the ConfigMap) and apply it';
  if (details.length > 0) return result('webhook-configuration', 'fail', `${what} does not match the configuration`, [...details, ...extra], fix);
  if (extra.length > 0) return result('webhook-configuration', 'warn', `${what} has webhooks the configuration does not give`, extra, fix);
  const policies = [...new Set(liveHooks.map((h) => h.failurePolicy ?? 'Fail'))].join(', ');
  return result('webhook-configuration', 'ok', `${what} matches the configuration (${liveHooks.length} webhook(s), failurePolicy ${policies})`);
}
