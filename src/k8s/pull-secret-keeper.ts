import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';
import type { Logger } from '../logger.ts';
import { describeApiError, statusOf } from './api-error.ts';
import { derivedDockerConfigJsonBase64, dockerConfigJson, pullSecretManifest, type PullSecretManifest, type PullSecretSpec } from './pull-secret-manifest.ts';
import { PullSecretError } from './reconcile-secret.ts';

export type EnsureResult = 'cached' | 'created' | 'updated' | 'unchanged';

export interface PullSecretKeeperOptions {
  api: CoreV1Api;
  logger: Logger;
  /** How long a namespace's secret is trusted without asking the API server again. */
  ttlMs?: number;
  /** How long a persistent failure (forbidden, an unmanaged secret in the way) is answered from memory. */
  failureTtlMs?: number;
  /**
   * How long a running check is joined by later callers. An API call can hang for minutes (the
   * client waits 300 s for headers); past this window a caller starts its own check, which is safe
   * because every write is conditional.
   */
  joinWindowMs?: number;
  now?: () => number;
  onResult?: (result: EnsureResult | 'error') => void;
}

export { PullSecretError };

/** One pass saw the secret change under it (409 from create, delete or replace, 404 from replace). */
const CONFLICT = Symbol('conflict');
/** setSpec() ran while this check was about to write what is now stale content. */
class Superseded extends Error {}

/** Passes over one namespace before a check gives up on a secret that keeps changing under it. */
const MAX_PASSES = 2;
/** 401 and 403 do not go away by asking again a moment later (RBAC changes are rare). */
const PERSISTENT_STATUSES = new Set([401, 403]);

function sameContent(actual: V1Secret, desired: PullSecretManifest): boolean {
  return actual.type === desired.type && actual.data?.['.dockerconfigjson'] === desired.data['.dockerconfigjson'];
}

/**
 * Makes sure each namespace holds the current pull secret, asking the API server at most once per
 * namespace per TTL and once at a time per spec generation (concurrent Pods of one rollout share
 * the same check; a Pod admitted after setSpec() never joins a check of the previous spec).
 * Only secrets labelled as managed by pullgate are ever changed. Writes are conditional on the
 * resourceVersion read, so concurrent writers (other replicas, a check of an older spec) are
 * detected and the secret is read and compared again.
 */
export class PullSecretKeeper {
  readonly #api: CoreV1Api;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #failureTtlMs: number;
  readonly #now: () => number;
  readonly #onResult: (result: EnsureResult | 'error') => void;
  #spec: PullSecretSpec;
  #generation = 0;
  readonly #verified = new Map<string, { generation: number; at: number }>();
  readonly #failed = new Map<string, { generation: number; at: number; error: PullSecretError }>();
  /** Keyed by `generation/namespace` (a namespace name never contains '/'). */
  readonly #inFlight = new Map<string, { check: Promise<EnsureResult>; startedAt: number }>();
  readonly #joinWindowMs: number;

  constructor(spec: PullSecretSpec, options: PullSecretKeeperOptions) {
    this.#spec = spec;
    this.#api = options.api;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#failureTtlMs = options.failureTtlMs ?? 5_000;
    this.#joinWindowMs = options.joinWindowMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#onResult = options.onResult ?? (() => {});
  }

  /** A new license or domain: every namespace is checked again on its next Pod. */
  setSpec(spec: PullSecretSpec): void {
    this.#spec = spec;
    this.#generation += 1;
    // Entries of the previous spec can never match again: drop them rather than keep one per
    // namespace ever served.
    this.#verified.clear();
    this.#failed.clear();
  }

  async ensure(namespace: string): Promise<EnsureResult> {
    const now = this.#now();
    const seen = this.#verified.get(namespace);
    if (seen && seen.generation === this.#generation && now - seen.at < this.#ttlMs) {
      this.#onResult('cached');
      return 'cached';
    }
    if (seen) this.#verified.delete(namespace);
    const failed = this.#failed.get(namespace);
    if (failed && failed.generation === this.#generation && now - failed.at < this.#failureTtlMs) {
      this.#onResult('error');
      throw failed.error;
    }
    if (failed) this.#failed.delete(namespace);
    return this.#check(namespace);
  }

  /** Joins the check of the current generation for the namespace, or starts it. */
  #check(namespace: string): Promise<EnsureResult> {
    const generation = this.#generation;
    const spec = this.#spec;
    const key = `${generation}/${namespace}`;
    const running = this.#inFlight.get(key);
    if (running && this.#now() - running.startedAt < this.#joinWindowMs) return running.check;
    const check = this.#reconcile(namespace, spec, generation)
      .then(
        (result) => {
          if (generation === this.#generation) {
            this.#verified.set(namespace, { generation, at: this.#now() });
            this.#failed.delete(namespace);
          }
          this.#onResult(result);
          return result;
        },
        (err: unknown) => {
          // Rather than write the previous spec's content, answer with the current spec's check.
          if (err instanceof Superseded) return this.ensure(namespace);
          const error = err instanceof PullSecretError ? err : new PullSecretError(scrub(describeApiError(`checking secret ${namespace}/${spec.name}`, err).message, spec), false);
          if (error.persistent && generation === this.#generation) this.#failed.set(namespace, { generation, at: this.#now(), error });
          this.#onResult('error');
          throw error;
        },
      )
      .finally(() => {
        // A newer check for the same key may have replaced this one; leave it in place.
        if (this.#inFlight.get(key)?.check === check) this.#inFlight.delete(key);
      });
    this.#inFlight.set(key, { check, startedAt: this.#now() });
    return check;
  }

  async #reconcile(namespace: string, spec: PullSecretSpec, generation: number): Promise<EnsureResult> {
    const desired = pullSecretManifest(spec.name, namespace, derivedDockerConfigJsonBase64(spec));
    for (let pass = 1; ; pass++) {
      const outcome = await this.#pass(namespace, desired, spec, generation);
      if (outcome !== CONFLICT) return outcome;
      if (pass >= MAX_PASSES) {
        throw new PullSecretError(`secret ${namespace}/${desired.metadata.name} kept changing while being checked (${MAX_PASSES} attempts); try again`, false);
      }
      this.#logger.debug({ namespace, secret: desired.metadata.name }, 'pull secret changed concurrently; reading it again');
    }
  }

  /** Throws Superseded when setSpec() ran since this check started: its content is stale. */
  #assertCurrent(generation: number): void {
    if (generation !== this.#generation) throw new Superseded();
  }

  async #pass(namespace: string, desired: PullSecretManifest, spec: PullSecretSpec, generation: number): Promise<EnsureResult | typeof CONFLICT> {
    const name = desired.metadata.name;
    const fail = (action: string, err: unknown) => apiFailure(`${action} secret ${namespace}/${name}`, err, spec);
    let actual: V1Secret | undefined;
    try {
      actual = await this.#api.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw fail('reading', err);
    }

    if (!actual) {
      this.#assertCurrent(generation);
      try {
        await this.#api.createNamespacedSecret({ namespace, body: desired });
      } catch (err) {
        // Another replica or request created it first, possibly with other content: read it again.
        if (statusOf(err) === 409) return CONFLICT;
        throw fail('creating', err);
      }
      this.#logger.info({ namespace, secret: name }, 'pull secret created');
      return 'created';
    }

    if (sameContent(actual, desired)) return 'unchanged';
    if (actual.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      throw new PullSecretError(
        `secret ${namespace}/${name} exists, differs, and is not managed by pullgate (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}); left as it is`,
        true,
      );
    }

    this.#assertCurrent(generation);
    const resourceVersion = actual.metadata?.resourceVersion;
    if (actual.type !== desired.type || actual.immutable === true) {
      // A Secret's type and an immutable Secret cannot be changed in place: replace the object,
      // deleting only the version that was read.
      try {
        await this.#api.deleteNamespacedSecret({
          name,
          namespace,
          body: { preconditions: { resourceVersion, ...(actual.metadata?.uid ? { uid: actual.metadata.uid } : {}) } },
        });
      } catch (err) {
        const status = statusOf(err);
        if (status === 409) return CONFLICT;
        if (status !== 404) throw fail('deleting stale', err);
      }
      const recreated = await this.#recreate(namespace, desired, spec);
      if (recreated === CONFLICT) return CONFLICT;
    } else {
      const body: V1Secret = {
        ...desired,
        metadata: { ...actual.metadata, resourceVersion, labels: { ...actual.metadata?.labels, ...desired.metadata.labels } },
      };
      delete body.metadata!.managedFields;
      try {
        await this.#api.replaceNamespacedSecret({ name, namespace, body });
      } catch (err) {
        const status = statusOf(err);
        // 409: changed since it was read; 404: deleted since. Either way, look again.
        if (status === 409 || status === 404) return CONFLICT;
        throw fail('repairing', err);
      }
    }
    this.#logger.info({ namespace, secret: name }, 'stale pull secret repaired');
    return 'updated';
  }

  /**
   * The create after deleting a stale secret. The namespace has no secret until it succeeds, so
   * passing failures (a quota whose usage is released asynchronously, a timeout) are retried a few
   * times, and a final failure says the secret is gone.
   */
  async #recreate(namespace: string, desired: PullSecretManifest, spec: PullSecretSpec): Promise<void | typeof CONFLICT> {
    const name = desired.metadata.name;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#api.createNamespacedSecret({ namespace, body: desired });
        return;
      } catch (err) {
        // Someone created it between the delete and the create: compare what they wrote.
        if (statusOf(err) === 409) return CONFLICT;
        if (attempt >= RECREATE_ATTEMPTS) {
          const error = apiFailure(`recreating (after deleting the stale one) secret ${namespace}/${name}`, err, spec);
          this.#logger.warn({ namespace, secret: name, err: error.message }, 'stale pull secret deleted but not recreated; the next Pod retries');
          // Not a persistent failure: the next Pod must try again rather than meet a cached error.
          throw new PullSecretError(error.message, false);
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * 3 ** (attempt - 1)));
      }
    }
  }
}

const RECREATE_ATTEMPTS = 3;

function apiFailure(action: string, err: unknown, spec: PullSecretSpec): PullSecretError {
  const status = statusOf(err);
  return new PullSecretError(scrub(describeApiError(action, err).message, spec), status !== undefined && PERSISTENT_STATUSES.has(status));
}

/** Masks the credential in any form it is sent in, should a Status message ever echo it. */
function scrub(message: string, spec: PullSecretSpec): string {
  if (!spec.licenseID) return message;
  const config = dockerConfigJson(spec);
  const forms = [
    Buffer.from(config).toString('base64'),
    config,
    Buffer.from(`LICENSE_ID:${spec.licenseID}`).toString('base64'),
    spec.licenseID,
  ];
  return forms.reduce((text, form) => text.split(form).join('[redacted]'), message);
}
