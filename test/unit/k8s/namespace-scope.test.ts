import { describe, expect, it } from 'vitest';
import type { NamespaceConfig } from '../../../src/config/schema.ts';
import { namespaceScope } from '../../../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../../../src/k8s/webhook-configuration.ts';

const OPT_IN = { key: 'pullgate.dev/inject', value: 'enabled' };
const config = (over: Partial<NamespaceConfig> = {}): NamespaceConfig => ({ application: 'my-app', additional: ['monitoring'], all: false, optInLabel: OPT_IN, exclude: ['kube-system', 'legacy'], ...over });
const optedIn = { 'pullgate.dev/inject': 'enabled' };

describe('namespaceScope', () => {
  it('serves the application and additional namespaces, and opted-in ones, nothing else', () => {
    const scope = namespaceScope(config(), 'pullgate');
    expect(scope.serves('my-app', undefined)).toBe(true);
    expect(scope.serves('monitoring', {})).toBe(true);
    expect(scope.serves('team-a', undefined)).toBe(false);
    expect(scope.serves('team-a', { 'pullgate.dev/inject': 'disabled' })).toBe(false);
    expect(scope.serves('team-a', { 'pullgate.dev/inject': 'Enabled' })).toBe(false);
    expect(scope.serves('team-a', optedIn)).toBe(true);
    expect(scope.serves('', optedIn), 'a cluster-scoped request has no namespace').toBe(false);
  });

  it('never serves kube-system, an excluded namespace or its own, whatever labels or configuration say', () => {
    for (const all of [false, true]) {
      const scope = namespaceScope(config({ all, additional: all ? [] : ['monitoring'], exclude: ['legacy'] }), 'pullgate');
      for (const ns of ['kube-system', 'legacy', 'pullgate']) {
        expect(scope.serves(ns, optedIn), `${ns} (all=${all})`).toBe(false);
        expect(scope.isExcluded(ns)).toBe(true);
      }
      expect(scope.excluded).toEqual(['kube-system', 'legacy', 'pullgate']);
    }
    // Configured and own at once: own wins.
    expect(namespaceScope(config({ application: 'pullgate' }), 'pullgate').serves('pullgate', undefined)).toBe(false);
  });

  it('serves every namespace but the excluded ones for "*"', () => {
    const scope = namespaceScope(config({ all: true, additional: [] }), 'pullgate');
    expect(scope.serves('anything', undefined)).toBe(true);
    expect(scope.servedByName('anything')).toBe(true);
    expect(scope.serves('kube-system', undefined)).toBe(false);
  });

  it('renders a webhook configuration whose selectors agree with it', () => {
    const scope = namespaceScope(config(), 'pullgate');
    const hooks = webhookConfiguration(scope, { clientConfig: { url: 'https://x/mutate' } }).webhooks!;
    /** What the API server would do with the two webhooks' namespaceSelectors. */
    const selected = (name: string, labels: Record<string, string>) =>
      hooks.some((hook) => {
        const sel = hook.namespaceSelector!;
        const all: Record<string, string> = { ...labels, 'kubernetes.io/metadata.name': name };
        const matchLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => all[k] === v);
        const exprs = (sel.matchExpressions ?? []).every((e) => (e.operator === 'In' ? e.values!.includes(all[e.key]!) : !e.values!.includes(all[e.key]!)));
        return matchLabels && exprs;
      });
    for (const name of ['my-app', 'monitoring', 'team-a', 'kube-system', 'legacy', 'pullgate']) {
      for (const labels of [{}, optedIn]) expect(selected(name, labels), `${name} ${JSON.stringify(labels)}`).toBe(scope.serves(name, labels));
    }
    // No Pod is sent twice.
    expect(hooks.map((h) => h.name)).toEqual(['pods.pullgate.dev', 'opt-in.pods.pullgate.dev']);
  });
});
