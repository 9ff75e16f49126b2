// One reconcile pass of a namespace's pull secret against an in-memory API server, with every way
// the secret can change under it between two calls. Call sequences are asserted exactly: they are
// what shows that a 409 or 404 leads to a fresh read, and that a current secret costs no write.
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ApiCallError } from '../../../src/k8s/api-error.ts';
import { derivedDockerConfigJsonBase64, dockerConfigJson, pullSecretManifest, type PullSecretSpec } from '../../../src/k8s/pull-secret-manifest.ts';
import { PullSecretError, reconcileSecret } from '../../../src/k8s/reconcile-secret.ts';
import { credentialForms } from '../../../src/util/redact.ts';
import { LICENSE_ID } from '../helpers/fixtures.ts';
import { MemorySecrets } from './memory-secrets.ts';

const NS = 'team-a';
const NAME = 'my-app-registry';
const OLD_LICENSE = 'OldLic-3hT8wQ2mZ6rK9pL1';
const spec = (licenseID: string): PullSecretSpec => ({ name: NAME, proxyDomain: 'proxy.example.com', registryDomain: 'registry.example.com', licenseID });
const desired = pullSecretManifest(NAME, NS, derivedDockerConfigJsonBase64(spec(LICENSE_ID)));
const OLD_DATA = derivedDockerConfigJsonBase64(spec(OLD_LICENSE));
const MANAGED = { 'app.kubernetes.io/managed-by': 'pullgate' };
/** Neither license may appear in any error, in any form. */
const FORMS = [...credentialForms(dockerConfigJson(spec(LICENSE_ID)), LICENSE_ID), ...credentialForms(dockerConfigJson(spec(OLD_LICENSE)), OLD_LICENSE)];

/** A secret as another writer leaves it: by default managed, of the right type, with the old license. */
function theirs(overrides: Partial<V1Secret> & { labels?: Record<string, string> } = {}): V1Secret {
  const { labels, ...rest } = overrides;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: NAME, namespace: NS, labels: labels ?? MANAGED },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': OLD_DATA },
    ...rest,
  };
}

function expectDesired(secret: V1Secret | undefined): void {
  expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
  expect(secret?.data).toEqual(desired.data);
  expect(secret?.metadata?.labels).toMatchObject(MANAGED);
}

async function failure(promise: Promise<unknown>): Promise<PullSecretError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PullSecretError);
  const error = err as PullSecretError;
  for (const form of FORMS) expect(`${error.message}\n${error.stack}`).not.toContain(form);
  return error;
}

describe('reconcileSecret: creating', () => {
  it('reads an unknown secret, and creates it when absent (404)', async () => {
    const api = new MemorySecrets();
    await expect(reconcileSecret(api, desired, undefined)).resolves.toBe('created');
    expect(api.ops()).toEqual(['read', 'create']);
    expectDesired(api.get(NS, NAME));
  });

  it('creates without reading when the cache knows it is absent', async () => {
    const api = new MemorySecrets();
    await expect(reconcileSecret(api, desired, null)).resolves.toBe('created');
    expect(api.ops()).toEqual(['create']);
  });

  it('409 on create, someone else created the same: reads it again and writes nothing', async () => {
    const api = new MemorySecrets();
    const other = api.put(theirs({ data: desired.data }));
    await expect(reconcileSecret(api, desired, null)).resolves.toBe('unchanged');
    expect(api.ops()).toEqual(['create', 'read']);
    expect(api.get(NS, NAME)?.metadata?.resourceVersion).toBe(other.metadata?.resourceVersion);
  });

  it('409 on create, someone else created a stale managed one: reads it and replaces it', async () => {
    const api = new MemorySecrets();
    const other = api.put(theirs());
    await expect(reconcileSecret(api, desired, null)).resolves.toBe('updated');
    expect(api.ops()).toEqual(['create', 'read', 'replace']);
    expect(api.calls[2]!.body?.metadata?.resourceVersion).toBe(other.metadata?.resourceVersion);
    expectDesired(api.get(NS, NAME));
  });

  it('409 on create in createOnly mode, with a stale managed one there: leaves it', async () => {
    const api = new MemorySecrets();
    api.put(theirs());
    await expect(reconcileSecret(api, desired, null, { createOnly: true })).resolves.toBe('left');
    expect(api.ops()).toEqual(['create', 'read']);
    expect(api.get(NS, NAME)?.data).toEqual({ '.dockerconfigjson': OLD_DATA });
  });

  it('creates in createOnly mode: creating is what admission does', async () => {
    const api = new MemorySecrets();
    await expect(reconcileSecret(api, desired, undefined, { createOnly: true })).resolves.toBe('created');
    expect(api.ops()).toEqual(['read', 'create']);
  });
});

describe('reconcileSecret: a secret that is there', () => {
  it('uses the cached secret: current means no call at all', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs({ data: desired.data }));
    api.calls.length = 0;
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('unchanged');
    expect(api.ops()).toEqual([]);
  });

  it('reads an unknown secret and writes nothing when it is current', async () => {
    const api = new MemorySecrets();
    api.put(theirs({ data: desired.data }));
    await expect(reconcileSecret(api, desired, undefined)).resolves.toBe('unchanged');
    expect(api.ops()).toEqual(['read']);
  });

  it('reads first when the cached object carries no resourceVersion to condition a write on', async () => {
    const api = new MemorySecrets();
    api.put(theirs());
    const { resourceVersion: _dropped, ...metadata } = api.get(NS, NAME)!.metadata!;
    await expect(reconcileSecret(api, desired, { ...theirs(), metadata })).resolves.toBe('updated');
    expect(api.ops()).toEqual(['read', 'replace']);
  });

  it('replaces a stale managed secret in place, conditional on its version, keeping its labels and annotations', async () => {
    const api = new MemorySecrets();
    const cached = api.put(
      theirs({
        labels: { ...MANAGED, team: 'a' },
        metadata: { name: NAME, namespace: NS, labels: { ...MANAGED, team: 'a' }, annotations: { note: 'kept' }, managedFields: [{ manager: 'kubectl' }] },
      }),
    );
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('updated');
    expect(api.ops()).toEqual(['replace']);
    const sent = api.calls[0]!.body!;
    expect(sent.metadata).toMatchObject({ resourceVersion: cached.metadata?.resourceVersion, uid: cached.metadata?.uid, labels: { ...MANAGED, team: 'a' }, annotations: { note: 'kept' } });
    expect(sent.metadata?.managedFields).toBeUndefined();
    expect(sent.data).toEqual(desired.data);
    expectDesired(api.get(NS, NAME));
  });

  it('409 on replace (the cache was behind): reads again and replaces the fresh version', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs());
    // Another writer changed it after the cache saw it.
    const newer = api.put(theirs({ labels: { ...MANAGED, added: 'later' } }));
    api.calls.length = 0;
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('updated');
    expect(api.ops()).toEqual(['replace', 'read', 'replace']);
    expect(api.calls[0]!.body?.metadata?.resourceVersion).toBe(cached.metadata?.resourceVersion);
    expect(api.calls[2]!.body?.metadata?.resourceVersion).toBe(newer.metadata?.resourceVersion);
    expect(api.get(NS, NAME)?.metadata?.labels).toEqual({ ...MANAGED, added: 'later' });
    expectDesired(api.get(NS, NAME));
  });

  it('404 on replace (deleted since): reads again and creates it', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs());
    api.remove(NS, NAME);
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('created');
    expect(api.ops()).toEqual(['replace', 'read', 'create']);
    expectDesired(api.get(NS, NAME));
  });

  it('a managed immutable secret is deleted, exactly the version looked at, and created again', async () => {
    const api = new MemorySecrets();
    const stored = api.put(theirs({ immutable: true }));
    await expect(reconcileSecret(api, desired, undefined)).resolves.toBe('replaced');
    expect(api.ops()).toEqual(['read', 'delete', 'create']);
    expect(api.calls[1]!.preconditions).toEqual({ resourceVersion: stored.metadata?.resourceVersion, uid: stored.metadata?.uid });
    const now = api.get(NS, NAME);
    expectDesired(now);
    expect(now?.immutable).toBeUndefined();
    expect(now?.metadata?.uid).not.toBe(stored.metadata?.uid);
  });

  it('a managed secret of the wrong type is deleted and created again', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs({ type: 'Opaque' }));
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('replaced');
    expect(api.ops()).toEqual(['delete', 'create']);
    expectDesired(api.get(NS, NAME));
  });

  it('409 on delete (replaced since it was looked at): reads again and deletes the fresh version', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs({ immutable: true }));
    api.remove(NS, NAME);
    const recreated = api.put(theirs({ immutable: true }));
    api.calls.length = 0;
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('replaced');
    expect(api.ops()).toEqual(['delete', 'read', 'delete', 'create']);
    expect(api.calls[0]!.preconditions).toEqual({ resourceVersion: cached.metadata?.resourceVersion, uid: cached.metadata?.uid });
    expect(api.calls[2]!.preconditions).toEqual({ resourceVersion: recreated.metadata?.resourceVersion, uid: recreated.metadata?.uid });
    expectDesired(api.get(NS, NAME));
  });

  it('404 on delete (already gone): just creates', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs({ immutable: true }));
    api.remove(NS, NAME);
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('replaced');
    expect(api.ops()).toEqual(['delete', 'create']);
    expectDesired(api.get(NS, NAME));
  });

  it('409 on the create after a delete: reads what the other writer created and compares', async () => {
    const api = new MemorySecrets();
    api.put(theirs({ immutable: true }));
    api.before = (call) => {
      if (call.op === 'create') api.put(theirs({ data: desired.data }));
    };
    await expect(reconcileSecret(api, desired, undefined)).resolves.toBe('unchanged');
    expect(api.ops()).toEqual(['read', 'delete', 'create', 'read']);
  });

  it('a failed create after a delete says the stale secret is gone, and is not persistent', async () => {
    const api = new MemorySecrets();
    api.put(theirs({ type: 'Opaque' }));
    api.before = (call) => (call.op === 'create' ? { status: 500, reason: 'InternalError' } : undefined);
    const err = await failure(reconcileSecret(api, desired, undefined));
    expect(err.message).toBe(`stale secret ${NS}/${NAME} deleted but not created again: creating secret ${NS}/${NAME} failed with HTTP 500 (InternalError)`);
    expect(err.persistent).toBe(false);
    expect(api.ops()).toEqual(['read', 'delete', 'create']);
  });

  it('never writes a secret not labelled as managed by pullgate, in either mode, and says so once for good', async () => {
    for (const createOnly of [false, true]) {
      const api = new MemorySecrets();
      const before = api.put(theirs({ labels: { owner: 'customer' }, immutable: true }));
      const err = await failure(reconcileSecret(api, desired, undefined, { createOnly }));
      expect(err.message).toBe(`secret ${NS}/${NAME} exists, differs, and is not managed by pullgate (label app.kubernetes.io/managed-by=pullgate); left as it is`);
      expect(err.persistent).toBe(true);
      expect(api.ops()).toEqual(['read']);
      expect(api.get(NS, NAME)).toEqual(before);
    }
  });

  it('an unmanaged secret that already holds the desired content is fine as it is', async () => {
    const api = new MemorySecrets();
    const cached = api.put(theirs({ labels: {}, data: desired.data }));
    await expect(reconcileSecret(api, desired, cached)).resolves.toBe('unchanged');
  });

  it('createOnly leaves a stale managed secret, whatever is stale about it, without a call', async () => {
    for (const stale of [theirs(), theirs({ type: 'Opaque' }), theirs({ immutable: true })]) {
      const api = new MemorySecrets();
      const cached = api.put(stale);
      api.calls.length = 0;
      await expect(reconcileSecret(api, desired, cached, { createOnly: true })).resolves.toBe('left');
      expect(api.ops()).toEqual([]);
      expect(api.get(NS, NAME)).toEqual(cached);
    }
  });
});

describe('reconcileSecret: giving up', () => {
  const keepsChanging = (api: MemorySecrets) => {
    let n = 0;
    api.before = (call) => {
      if (call.op === 'replace') api.put(theirs({ labels: { ...MANAGED, writer: `other-${++n}` } }));
    };
  };

  it('after maxPasses conflicts (default 2): not persistent, says it kept changing', async () => {
    const api = new MemorySecrets();
    api.put(theirs());
    keepsChanging(api);
    const err = await failure(reconcileSecret(api, desired, undefined));
    expect(err.message).toBe(`secret ${NS}/${NAME} kept changing while being reconciled (2 attempts); try again`);
    expect(err.persistent).toBe(false);
    expect(api.ops()).toEqual(['read', 'replace', 'read', 'replace']);
  });

  it('takes maxPasses', async () => {
    const api = new MemorySecrets();
    api.put(theirs());
    keepsChanging(api);
    await expect(failure(reconcileSecret(api, desired, undefined, { maxPasses: 3 }))).resolves.toMatchObject({ message: expect.stringContaining('(3 attempts)') });
    expect(api.ops()).toEqual(['read', 'replace', 'read', 'replace', 'read', 'replace']);

    const once = new MemorySecrets();
    once.put(theirs());
    keepsChanging(once);
    await failure(reconcileSecret(once, desired, undefined, { maxPasses: 1 }));
    expect(once.ops()).toEqual(['read', 'replace']);
    await expect(reconcileSecret(once, desired, undefined, { maxPasses: 0 })).rejects.toThrow(RangeError);
  });

  const failures: Array<[string, 'read' | 'create' | 'replace', { status: number; reason: string } | 'hang', boolean, string]> = [
    ['403 on read', 'read', { status: 403, reason: 'Forbidden' }, true, `reading secret ${NS}/${NAME} failed with HTTP 403 (Forbidden)`],
    ['401 on create', 'create', { status: 401, reason: 'Unauthorized' }, true, `creating secret ${NS}/${NAME} failed with HTTP 401 (Unauthorized)`],
    ['403 on replace', 'replace', { status: 403, reason: 'Forbidden' }, true, `replacing secret ${NS}/${NAME} failed with HTTP 403 (Forbidden)`],
    ['500 on read', 'read', { status: 500, reason: 'InternalError' }, false, `reading secret ${NS}/${NAME} failed with HTTP 500 (InternalError)`],
    ['503 on replace', 'replace', { status: 503, reason: 'ServiceUnavailable' }, false, `replacing secret ${NS}/${NAME} failed with HTTP 503 (ServiceUnavailable)`],
    ['422 from a policy on create', 'create', { status: 422, reason: 'Invalid' }, false, `creating secret ${NS}/${NAME} failed with HTTP 422 (Invalid)`],
    ['a timeout on create', 'create', 'hang', false, `creating secret ${NS}/${NAME} failed: no answer within 50 ms`],
    ['a timeout on read', 'read', 'hang', false, `reading secret ${NS}/${NAME} failed: no answer within 50 ms`],
  ];
  for (const [title, op, answer, persistent, message] of failures) {
    it(`${title}: ${persistent ? 'persistent' : 'not persistent'}, and the Status message (which quotes the credential) is not passed on`, async () => {
      const api = new MemorySecrets();
      if (op === 'replace') api.put(theirs());
      api.before = (call) => (call.op === op ? answer : undefined);
      const err = await failure(reconcileSecret(api, desired, undefined));
      expect(err.message).toBe(message);
      expect(err.persistent).toBe(persistent);
    });
  }

  it('a saturated budget is not persistent', async () => {
    const api = new MemorySecrets();
    api.create = () => Promise.reject(new ApiCallError('saturated', `creating secret ${NS}/${NAME} failed: not sent: API calls in flight at the limit (4)`));
    const err = await failure(reconcileSecret(api, desired, null));
    expect(err.persistent).toBe(false);
    expect(err.message).toContain('not sent');
  });

  it('an unexpected error from a SecretsApi is described without its message, and the credential is masked regardless', async () => {
    const api = new MemorySecrets();
    api.read = () => Promise.reject(new Error(`socket hang up while sending ${desired.data['.dockerconfigjson']}`));
    const unexpected = await failure(reconcileSecret(api, desired, undefined));
    expect(unexpected.message).toBe(`reading secret ${NS}/${NAME} failed without an answer from the API server`);

    // An implementation that put the credential in its own ApiCallError still does not leak it.
    const careless = new MemorySecrets();
    careless.create = () => Promise.reject(new ApiCallError('http', `creating failed: ${LICENSE_ID} / ${desired.data['.dockerconfigjson']}`, { status: 400 }));
    const masked = await failure(reconcileSecret(careless, desired, null));
    expect(masked.message).toBe('creating failed: [redacted] / [redacted]');
  });
});
