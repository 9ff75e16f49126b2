import { result, type CheckResult } from '../check.ts';
import type { InstallGuardFacts } from '../facts.ts';

/**
 * The install guard is gone. It refuses every Pod pullgate must rewrite until pullgate first
 * serves, when pullgate deletes it; Helm never deletes it (a hook), so it outlives an uninstall of
 * a pullgate that never served.
 */
export function checkInstallGuard(facts: InstallGuardFacts, ownNamespace: string): CheckResult {
  const what = `install guard (MutatingWebhookConfiguration ${facts.name})`;
  if (facts.live === undefined) {
    return result('install-guard', 'warn', `${what} could not be read`, facts.readError ? [facts.readError] : [], 'check that your kubeconfig may get mutatingwebhookconfigurations');
  }
  if (facts.live === null) {
    return result('install-guard', 'ok', facts.configured ? `${what} is gone: pullgate has served since it was installed` : 'no install guard');
  }
  return result(
    'install-guard',
    'warn',
    `${what} still exists: pullgate has not served since it was installed, and the API server refuses every Pod that needs it`,
    [],
    `find out why pullgate is not ready (kubectl -n ${ownNamespace} get pods; kubectl -n ${ownNamespace} logs deployment/<name>): pullgate deletes the guard as soon as it serves. If pullgate was uninstalled without ever serving, delete it: kubectl delete mutatingwebhookconfiguration ${facts.name}`,
  );
}
