import type { V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';
import { credentialForms, redactCredential } from '../util/redact.ts';
import { ApiCallError, apiCallError, statusOf } from './api-error.ts';
import type { PullSecretManifest } from './pull-secret-manifest.ts';
import type { SecretsApi } from './secrets-api.ts';

/**
 * created: there was none. updated: a managed secret was rewritten in place. replaced: a managed
 * secret of the wrong type, or immutable, was deleted and created again. unchanged: it was
 * already right. left: it is managed but differs, and this caller only creates.
 */
export type ReconcileOutcome = 'created' | 'updated' | 'replaced' | 'unchanged' | 'left';

export interface ReconcileOptions {
  /**
   * Create a missing secret, never change an existing one. Admission runs this way: replicas
   * that picked up a new license at different moments would otherwise overwrite each other;
   * repairing is the job of the one reconciler holding the lease.
   */
  createOnly?: boolean;
  /** Passes (each starting from a fresh read) before a secret that keeps changing is given up on. */
  maxPasses?: number;
}

/**
 * A failed reconcile. The message names the secret and the API status, never secret data (see
 * ApiCallError), and anything that still looks like the credential is masked.
 */
export class PullSecretError extends Error {
  /** Retrying within seconds will fail the same way (forbidden, an unmanaged secret in the way). */
  readonly persistent: boolean;
  constructor(message: string, persistent: boolean) {
    super(message);
    this.name = 'PullSecretError';
    this.persistent = persistent;
  }
}

/** The secret changed between reading and writing it: 409 from a write, 404 from replace. */
const CONFLICT = Symbol('conflict');

/** 401 and 403 do not go away by asking again a moment later (RBAC changes are rare). */
const PERSISTENT_STATUSES = new Set([401, 403]);

function sameContent(actual: V1Secret, desired: PullSecretManifest): boolean {
  return actual.type === desired.type && actual.data?.['.dockerconfigjson'] === desired.data['.dockerconfigjson'];
}

function isManaged(secret: V1Secret): boolean {
  return secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** A PullSecretError for a failed call, its message masked against the desired credential. */
function failure(what: string, err: unknown, desired: PullSecretManifest): PullSecretError {
  if (err instanceof PullSecretError) return err;
  const error = err instanceof ApiCallError ? err : apiCallError(what, err);
  const config = Buffer.from(desired.data['.dockerconfigjson'], 'base64').toString('utf8');
  const message = redactCredential(error.message, [...credentialForms(config), desired.data['.dockerconfigjson']]);
  return new PullSecretError(message, error.status !== undefined && PERSISTENT_STATUSES.has(error.status));
}

/**
 * Brings one namespace's pull secret to `desired`. `observed` is the secret as a watch cache last
 * saw it (null: known absent; undefined: unknown, so it is read first). A secret already right
 * costs no write. Only secrets labelled as managed by pullgate are ever changed; every change is
 * conditional on the version looked at (create fails if one appeared, replace and delete carry
 * its resourceVersion), so a concurrent writer is detected, and the next pass reads the secret
 * again and compares. Throws PullSecretError.
 */
export async function reconcileSecret(
  api: SecretsApi,
  desired: PullSecretManifest,
  observed: V1Secret | null | undefined,
  options: ReconcileOptions = {},
): Promise<ReconcileOutcome> {
  const maxPasses = options.maxPasses ?? 2;
  if (!Number.isInteger(maxPasses) || maxPasses < 1) throw new RangeError(`maxPasses must be a positive integer, got ${maxPasses}`);
  const { namespace, name } = desired.metadata;
  let known = observed;
  for (let pass = 1; ; pass++) {
    const outcome = await reconcilePass(api, desired, known, options.createOnly === true);
    if (outcome !== CONFLICT) return outcome;
    if (pass >= maxPasses) {
      throw new PullSecretError(`secret ${namespace}/${name} kept changing while being reconciled (${maxPasses} attempts); try again`, false);
    }
    known = undefined;
  }
}

/**
 * The outcome for a secret as looked at, when it needs no write: 'unchanged', or 'left' in
 * create-only mode; undefined when a write is due. Throws when it differs and is not pullgate's.
 */
export function outcomeWithoutWrite(actual: V1Secret, desired: PullSecretManifest, createOnly: boolean): ReconcileOutcome | undefined {
  if (sameContent(actual, desired)) return 'unchanged';
  if (!isManaged(actual)) {
    const { namespace, name } = desired.metadata;
    throw new PullSecretError(`secret ${namespace}/${name} exists, differs, and is not managed by pullgate (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}); left as it is`, true);
  }
  return createOnly ? 'left' : undefined;
}

async function reconcilePass(api: SecretsApi, desired: PullSecretManifest, observed: V1Secret | null | undefined, createOnly: boolean): Promise<ReconcileOutcome | typeof CONFLICT> {
  const { namespace, name } = desired.metadata;
  const object = `secret ${namespace}/${name}`;
  let actual: V1Secret | undefined;
  // Writes are conditional on the resourceVersion looked at: a cached object without one is read.
  if (observed === undefined || (observed !== null && !observed.metadata?.resourceVersion)) {
    try {
      actual = await api.read(namespace, name);
    } catch (err) {
      throw failure(`reading ${object}`, err, desired);
    }
  } else {
    actual = observed ?? undefined;
  }

  if (!actual) {
    try {
      await api.create(namespace, desired);
    } catch (err) {
      // Another replica or request created it first, possibly with other content: look again.
      if (statusOf(err) === 409) return CONFLICT;
      throw failure(`creating ${object}`, err, desired);
    }
    return 'created';
  }

  const settled = outcomeWithoutWrite(actual, desired, createOnly);
  if (settled) return settled;

  const resourceVersion = actual.metadata?.resourceVersion;
  if (actual.type !== desired.type || actual.immutable === true) {
    // Neither a Secret's type nor an immutable Secret can be changed in place: delete exactly the
    // version looked at, then create.
    const uid = actual.metadata?.uid;
    try {
      await api.delete(namespace, name, { ...(resourceVersion ? { resourceVersion } : {}), ...(uid ? { uid } : {}) });
    } catch (err) {
      const status = statusOf(err);
      if (status === 409) return CONFLICT;
      // 404: already gone; creating is all that is left to do.
      if (status !== 404) throw failure(`deleting stale ${object}`, err, desired);
    }
    try {
      await api.create(namespace, desired);
    } catch (err) {
      // Someone created it between the delete and the create: compare what they wrote.
      if (statusOf(err) === 409) return CONFLICT;
      const error = failure(`creating ${object}`, err, desired);
      throw new PullSecretError(`stale ${object} deleted but not created again: ${error.message}`, error.persistent);
    }
    return 'replaced';
  }

  const body: V1Secret = {
    ...desired,
    metadata: { ...actual.metadata, labels: { ...actual.metadata?.labels, ...desired.metadata.labels } },
  };
  delete body.metadata!.managedFields;
  try {
    await api.replace(namespace, name, body);
  } catch (err) {
    const status = statusOf(err);
    // 409: changed since it was looked at; 404: deleted since. Either way, look again.
    if (status === 409 || status === 404) return CONFLICT;
    throw failure(`replacing ${object}`, err, desired);
  }
  return 'updated';
}
