import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../admission/labels.ts';
import { result, type CheckResult } from '../check.ts';
import type { PullSecretFacts } from '../facts.ts';

const list = (names: readonly string[]) => names.join(', ');

/**
 * The pull secret exists, managed by pullgate and current, in every namespace in scope. Says which
 * namespaces are wrong and how; never what a secret holds.
 */
export function checkPullSecrets(facts: PullSecretFacts, ownNamespace: string): CheckResult {
  if (facts.error !== undefined) return result('pull-secrets', 'fail', 'pull secrets could not be read', [facts.error], 'check that your kubeconfig may list namespaces and secrets');
  if (facts.name === undefined) return result('pull-secrets', 'warn', 'pull secrets not checked: the configuration is not usable');
  const secret = `pull secret ${facts.name}`;
  const missing: string[] = [];
  const stale: string[] = [];
  const wrongType: string[] = [];
  const unmanaged: string[] = [];
  const current: string[] = [];
  for (const [namespace, state] of [...facts.byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
    if (!state.present) missing.push(namespace);
    else if (!state.managed) unmanaged.push(namespace);
    else if (state.type !== 'kubernetes.io/dockerconfigjson') wrongType.push(namespace);
    else if (state.current === false) stale.push(namespace);
    else current.push(namespace);
  }
  const details = [
    ...(missing.length ? [`missing in: ${list(missing)}`] : []),
    ...(stale.length ? [`stale (not what the current license or credential gives) in: ${list(stale)}`] : []),
    ...(wrongType.length ? [`not of type kubernetes.io/dockerconfigjson in: ${list(wrongType)}`] : []),
    ...(unmanaged.length ? [`exists but is not pullgate's (no label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}), so pullgate leaves it as it is, in: ${list(unmanaged)}`] : []),
  ];
  const notes = [
    ...(facts.missingNamespaces.length ? [`configured namespaces that do not exist: ${list(facts.missingNamespaces)}`] : []),
    ...(facts.contentUnknown !== undefined ? [`content not compared: ${facts.contentUnknown}`] : []),
  ];
  if (details.length > 0) {
    const fix =
      unmanaged.length > 0
        ? `delete or label the secrets pullgate does not manage; for the rest, pullgate's reconciler (the replica holding Lease pullgate-leader in ${ownNamespace}) writes them within seconds: check pullgate is running and its log`
        : `pullgate's reconciler (the replica holding Lease pullgate-leader in ${ownNamespace}) writes them within seconds: check pullgate is running and ready, and its log (kubectl logs -n ${ownNamespace} -l app.kubernetes.io/name=pullgate)`;
    return result('pull-secrets', 'fail', `${secret} is not right in ${missing.length + stale.length + wrongType.length + unmanaged.length} namespace(s) in scope`, [...details, ...notes], fix);
  }
  if (facts.byNamespace.size === 0) return result('pull-secrets', 'warn', 'no namespace in scope exists', notes, 'create the application namespace, or label a namespace with the opt-in label');
  const summary = `${secret} present and current in ${current.length} namespace(s): ${list(current)}`;
  return result('pull-secrets', notes.length > 0 ? 'warn' : 'ok', summary, notes);
}
