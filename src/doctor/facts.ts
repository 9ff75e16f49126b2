import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { EffectiveSettings } from '../config/license-settings.ts';
import type { PullgateConfig } from '../config/schema.ts';
import type { License } from '../license/license.ts';

/**
 * What `pullgate doctor` gathered from the cluster and the files it was given, before any judgement.
 * Never holds secret data: a pull secret is reduced here to whether its content is the current one.
 */
export interface DoctorFacts {
  readonly now: Date;
  readonly ownNamespace: string;
  readonly installation: InstallationFacts;
  readonly webhook: WebhookFacts;
  readonly installGuard: InstallGuardFacts;
  readonly servingCertificate: ServingCertificateFacts;
  readonly pullSecrets: PullSecretFacts;
  readonly probe: ProbeFacts;
}

export interface InstallationFacts {
  /** Where the configuration was read, in words ("ConfigMap pullgate/pullgate-config, key config.yaml"). */
  readonly configSource: string;
  readonly config?: PullgateConfig;
  /** Also problems of the settings the license defaults. */
  readonly configProblems: readonly string[];
  readonly licenseSource: string;
  readonly license?: License;
  readonly licenseProblems: readonly string[];
  readonly settings?: EffectiveSettings;
  /**
   * The proxy domains the License document may give (lower case): what the webhook's match
   * condition is rendered from when the configuration sets no proxyDomain. Never the document.
   */
  readonly licenseProxyDomains?: readonly string[];
}

export interface WebhookFacts {
  /** The MutatingWebhookConfiguration looked for. */
  readonly name: string;
  /** Null: it does not exist; undefined: it could not be read (see readError). */
  readonly live: V1MutatingWebhookConfiguration | null | undefined;
  readonly readError?: string;
}

/** The chart's install guard: a MutatingWebhookConfiguration that pullgate deletes once it serves. */
export interface InstallGuardFacts {
  /** The Deployment's --install-guard, else <webhook>-install, the chart's name for it. */
  readonly name: string;
  /** Whether the Deployment names it (serve --install-guard). */
  readonly configured: boolean;
  /** Null: it does not exist; undefined: it could not be read (see readError). */
  readonly live: V1MutatingWebhookConfiguration | null | undefined;
  readonly readError?: string;
}

export interface ServingCertificateFacts {
  /** Where it was found or looked for, in words. */
  readonly source: string;
  /** The chain, leaf first, as PEM; undefined when not found (see error). */
  readonly chainPem?: readonly string[];
  readonly error?: string;
  /** The host name the API server verifies it for (the URL's host, or <service>.<namespace>.svc). */
  readonly host?: string;
}

/** A pull secret as found, without its data. */
export type PullSecretState =
  | { readonly present: false }
  | { readonly present: true; readonly type: string; readonly managed: boolean; /** undefined: what it should hold is unknown. */ readonly current: boolean | undefined };

export interface PullSecretFacts {
  readonly name?: string;
  /** Served namespaces that exist, and their pull secret. */
  readonly byNamespace: ReadonlyMap<string, PullSecretState>;
  /** Namespaces the configuration names that do not exist. */
  readonly missingNamespaces: readonly string[];
  /** Why the current content is unknown (license invalid, credential Secret unreadable). */
  readonly contentUnknown?: string;
  readonly error?: string;
}

export type ProbeOutcome =
  /** Stored (dry run): the Pod as the API server would have stored it, and its warnings. */
  | {
      readonly kind: 'admitted';
      readonly images: readonly string[];
      readonly imagePullSecrets: readonly string[];
      readonly annotations: Readonly<Record<string, string>>;
      readonly warnings: readonly string[];
    }
  /** Refused: the API server's message (about the probe Pod, which holds nothing secret). */
  | { readonly kind: 'refused'; readonly status?: number; readonly message: string }
  /** Not sent: there is no namespace in scope, or the configuration is not usable. */
  | { readonly kind: 'skipped'; readonly reason: string };

export interface ProbeFacts {
  readonly namespace?: string;
  readonly podName?: string;
  /** The image the probe Pod asked for. */
  readonly image?: string;
  readonly outcome: ProbeOutcome;
}
