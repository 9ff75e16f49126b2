import type { AdmissionContext } from '../admission/admit.ts';
import { mutationPolicy, pullSecretSpec } from '../admission/policy.ts';
import { effectiveSettings, type LoadedConfig } from '../config.ts';
import type { PullSecretKeeper } from '../k8s/pull-secret-keeper.ts';
import { expiryWarning, type License } from '../license/license.ts';
import { withDeadline } from '../util/with-deadline.ts';

// The webhook's timeoutSeconds is 10: past this budget the Pod is better admitted rewritten, with a
// warning, than abandoned by the API server and (failurePolicy Ignore) admitted unrewritten.
export const PULL_SECRET_BUDGET_MS = 5_000;

export interface AdmissionState {
  context: AdmissionContext;
  /** Applies a reloaded license; throws (and changes nothing) if it makes the settings invalid. */
  setLicense(license: License): void;
}

/** The live admission context: configuration fixed at start, license swapped when it changes. */
export function createAdmissionState(
  loaded: LoadedConfig,
  ownNamespace: string,
  keeper: PullSecretKeeper,
  now: () => Date = () => new Date(),
  budgetMs = PULL_SECRET_BUDGET_MS,
): AdmissionState {
  const { config } = loaded;
  let license = loaded.license;
  let policy = mutationPolicy(config, loaded.settings);
  const excluded = new Set([...config.namespaces.exclude, ownNamespace]);
  return {
    context: {
      policy: () => policy,
      standingWarnings: () => {
        const warning = expiryWarning(license, now());
        return warning ? [warning] : [];
      },
      isExcludedNamespace: (namespace) => excluded.has(namespace),
      ensurePullSecret: async (namespace) => {
        await withDeadline(keeper.ensure(namespace), budgetMs, `no answer from the API server within ${budgetMs / 1000} s`);
      },
    },
    setLicense(next) {
      const settings = effectiveSettings(config, next);
      license = next;
      policy = mutationPolicy(config, settings);
      keeper.setSpec(pullSecretSpec(settings, next));
    },
  };
}
