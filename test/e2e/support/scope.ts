// Namespace scope without races. The webhook's namespaceSelector is evaluated by the API server
// against its namespace informer cache, so a label change becomes effective for admission a moment
// after `kubectl label` returns. (A namespace missing from the cache is fetched live, so one created
// WITH the label in a single request is served at once.) Tests that change a label wait for the
// change to take effect with waitForScope() instead of racing the cache.
import { stringify } from 'yaml';
import { eventually } from '../../support/eventually.ts';
import { e2e } from './env.ts';
import { OPT_IN_LABEL, proxied } from './scenario.ts';

const [OPT_IN_KEY, OPT_IN_VALUE] = OPT_IN_LABEL.split('=') as [string, string];
const PROBE_IMAGE = 'quay.io/acme/scope-probe:1';

/** Creates `name` carrying the opt-in label, in one request, and waits until its Pods are served. */
export async function createServedNamespace(name: string, labels: Record<string, string> = {}): Promise<string> {
  const { client } = e2e();
  const manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels, [OPT_IN_KEY]: OPT_IN_VALUE } } };
  await client.kubectl(['apply', '-f', '-'], { input: stringify(manifest) });
  await waitForScope(name, true);
  return name;
}

/** Whether a Pod with a private image, created in `ns` with --dry-run=server, comes back rewritten. */
export async function probeMutated(ns: string): Promise<boolean> {
  const { client } = e2e();
  const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'scope-probe', namespace: ns }, spec: { containers: [{ name: 'probe', image: PROBE_IMAGE }] } };
  // Dry run: nothing is stored and pullgate creates no pull secret (sideEffects: NoneOnDryRun).
  const out = await client.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(probe) });
  const image = (JSON.parse(out.stdout) as { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image;
  if (image === proxied(PROBE_IMAGE)) return true;
  if (image === PROBE_IMAGE) return false;
  throw new Error(`scope probe in ${ns}: unexpected image ${image}`);
}

/** Polls until Pods in `ns` are (expectMutated) or are no longer (!expectMutated) mutated by pullgate. */
export async function waitForScope(ns: string, expectMutated: boolean, timeoutMs = 30_000): Promise<void> {
  await eventually(`namespace ${ns} ${expectMutated ? 'served' : 'not served'} by pullgate`, async () => ((await probeMutated(ns)) === expectMutated ? true : undefined), timeoutMs);
}
