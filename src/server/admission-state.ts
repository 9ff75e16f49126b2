import type { AdmissionContext } from '../admission/admit.ts';
import type { MutationPolicy } from '../admission/mutate-pod.ts';
import { mutationPolicy, pullSecretSpec } from '../admission/policy.ts';
import { effectiveSettings, type EffectiveSettings } from '../config/license-settings.ts';
import type { LoadedConfig } from '../config/load.ts';
import { derivedDockerConfigJsonBase64 } from '../k8s/pull-secret-manifest.ts';
import { expiryWarning, type License } from '../license/license.ts';
import { withDeadline } from '../util/with-deadline.ts';

// The webhook's timeoutSeconds is 10: past this budget the Pod is better admitted rewritten, with a
// warning, than abandoned by the API server and (failurePolicy Ignore) admitted unrewritten.
export const PULL_SECRET_BUDGET_MS = 5_000;

/** Configuration fixed at start, combined with the license in force, which is swapped when it changes. */
export interface LiveSettings {
  settings(): EffectiveSettings;
  policy(): MutationPolicy;
  license(): License;
  /** The `.dockerconfigjson` derived from the license, base64-encoded. */
  derivedCredential(): string;
  /**
   * Applies a reloaded license; throws (and changes nothing) when it makes the settings invalid or
   * would rename the pull secret, which the watches and the RBAC are bound to: that takes a restart.
   */
  setLicense(license: License): void;
}

export function liveSettings(loaded: LoadedConfig): LiveSettings {
  const { config } = loaded;
  let license = loaded.license;
  let settings = loaded.settings;
  let policy = mutationPolicy(config, settings);
  let credential = derivedDockerConfigJsonBase64(pullSecretSpec(settings, license));
  return {
    settings: () => settings,
    policy: () => policy,
    license: () => license,
    derivedCredential: () => credential,
    setLicense(next) {
      const nextSettings = effectiveSettings(config, next);
      if (nextSettings.pullSecretName !== settings.pullSecretName) {
        throw new Error(`the new license would rename the pull secret "${settings.pullSecretName}" to "${nextSettings.pullSecretName}"; set pullSecret.name (or appSlug) in the configuration and restart pullgate`);
      }
      license = next;
      settings = nextSettings;
      policy = mutationPolicy(config, settings);
      credential = derivedDockerConfigJsonBase64(pullSecretSpec(settings, next));
    },
  };
}

export interface AdmissionContextParts {
  live: LiveSettings;
  serves(namespace: string): boolean | Promise<boolean>;
  /** Synchronous when the answer is known (say from the cache); may throw or reject. */
  ensurePullSecret(namespace: string): unknown;
  now?: () => Date;
  budgetMs?: number;
}

/** The admission context over the live settings, the namespace scope and the pull secret. */
export function admissionContext(parts: AdmissionContextParts): AdmissionContext {
  const { live, ensurePullSecret } = parts;
  const now = parts.now ?? (() => new Date());
  const budgetMs = parts.budgetMs ?? PULL_SECRET_BUDGET_MS;
  return {
    policy: () => live.policy(),
    standingWarnings: () => {
      const warning = expiryWarning(live.license(), now());
      return warning ? [warning] : [];
    },
    serves: parts.serves,
    ensurePullSecret: (namespace) => {
      const result = ensurePullSecret(namespace);
      // Only a pending answer needs the deadline: an answer from the cache sets no timer.
      if (!(result instanceof Promise)) return undefined;
      return withDeadline(result, budgetMs, `no answer from the API server within ${budgetMs / 1000} s`).then(() => undefined);
    },
  };
}
