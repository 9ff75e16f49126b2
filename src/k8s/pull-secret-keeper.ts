import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';
import type { Logger } from '../logger.ts';
import { describeApiError, statusOf } from './api-error.ts';
import { pullSecretManifest, type PullSecretSpec } from './pull-secret-manifest.ts';

export type EnsureResult = 'cached' | 'created' | 'updated' | 'unchanged';

export interface PullSecretKeeperOptions {
  api: CoreV1Api;
  logger: Logger;
  /** How long a namespace's secret is trusted without asking the API server again. */
  ttlMs?: number;
  now?: () => number;
  onResult?: (result: EnsureResult | 'error') => void;
}

function sameContent(actual: V1Secret, desired: ReturnType<typeof pullSecretManifest>): boolean {
  return actual.type === desired.type && actual.data?.['.dockerconfigjson'] === desired.data['.dockerconfigjson'];
}

/**
 * Makes sure each namespace holds the current pull secret, asking the API server at most once per
 * namespace per TTL and once at a time (concurrent Pods of one rollout share the same check).
 * Only secrets labelled as managed by pullgate are ever changed.
 */
export class PullSecretKeeper {
  readonly #api: CoreV1Api;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onResult: (result: EnsureResult | 'error') => void;
  #spec: PullSecretSpec;
  #generation = 0;
  readonly #verified = new Map<string, { generation: number; at: number }>();
  readonly #inFlight = new Map<string, Promise<EnsureResult>>();

  constructor(spec: PullSecretSpec, options: PullSecretKeeperOptions) {
    this.#spec = spec;
    this.#api = options.api;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#onResult = options.onResult ?? (() => {});
  }

  /** A new license or domain: every namespace is checked again on its next Pod. */
  setSpec(spec: PullSecretSpec): void {
    this.#spec = spec;
    this.#generation += 1;
  }

  get secretName(): string {
    return this.#spec.name;
  }

  async ensure(namespace: string): Promise<EnsureResult> {
    const seen = this.#verified.get(namespace);
    if (seen && seen.generation === this.#generation && this.#now() - seen.at < this.#ttlMs) {
      this.#onResult('cached');
      return 'cached';
    }
    const running = this.#inFlight.get(namespace);
    if (running) return running;
    const generation = this.#generation;
    const check = this.#reconcile(namespace)
      .then((result) => {
        if (generation === this.#generation) this.#verified.set(namespace, { generation, at: this.#now() });
        this.#onResult(result);
        return result;
      })
      .catch((err: unknown) => {
        this.#onResult('error');
        throw err;
      })
      .finally(() => this.#inFlight.delete(namespace));
    this.#inFlight.set(namespace, check);
    return check;
  }

  async #reconcile(namespace: string): Promise<EnsureResult> {
    const desired = pullSecretManifest(this.#spec, namespace);
    const name = desired.metadata.name;
    let actual: V1Secret | undefined;
    try {
      actual = await this.#api.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw describeApiError(`reading secret ${namespace}/${name}`, err);
    }
    if (!actual) {
      try {
        await this.#api.createNamespacedSecret({ namespace, body: desired });
        this.#logger.info({ namespace, secret: name }, 'pull secret created');
        return 'created';
      } catch (err) {
        // Another replica or request created it first: what it wrote is checked on the next pass.
        if (statusOf(err) === 409) return 'unchanged';
        throw describeApiError(`creating secret ${namespace}/${name}`, err);
      }
    }
    if (sameContent(actual, desired)) return 'unchanged';
    if (actual.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      throw new Error(`secret ${namespace}/${name} exists, differs, and is not managed by pullgate (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}); left as it is`);
    }
    return this.#repair(actual, desired, namespace);
  }

  async #repair(actual: V1Secret, desired: ReturnType<typeof pullSecretManifest>, namespace: string): Promise<EnsureResult> {
    const name = desired.metadata.name;
    try {
      // A Secret's type and an immutable Secret cannot be changed in place: replace the object.
      if (actual.type !== desired.type || actual.immutable === true) {
        await this.#api.deleteNamespacedSecret({ name, namespace });
        await this.#api.createNamespacedSecret({ namespace, body: desired });
      } else {
        const body = { ...desired, metadata: { ...actual.metadata, labels: { ...actual.metadata?.labels, ...desired.metadata.labels } } };
        await this.#api.replaceNamespacedSecret({ name, namespace, body });
      }
    } catch (err) {
      throw describeApiError(`repairing secret ${namespace}/${name}`, err);
    }
    this.#logger.info({ namespace, secret: name }, 'stale pull secret repaired');
    return 'updated';
  }
}
