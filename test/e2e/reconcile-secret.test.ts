// One reconcile pass (reconcileSecret over kubeSecretsApi) against the real API server, as
// pullgate's own ServiceAccount: the shipped RBAC and write guard decide what it may do. The
// contract content, repairs, replacements, what it leaves alone, and the races between replicas.
// Each test uses fresh namespaces that are neither configured nor opted in, so the shared running
// pullgate never reconciles them.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/admission/labels.ts';
import { ApiCallBudget } from '../../src/k8s/api-call-budget.ts';
import { derivedDockerConfigJsonBase64, pullSecretManifest, type PullSecretManifest } from '../../src/k8s/pull-secret-manifest.ts';
import { PullSecretError, reconcileSecret, type ReconcileOutcome } from '../../src/k8s/reconcile-secret.ts';
import { kubeSecretsApi, type SecretsApi } from '../../src/k8s/secrets-api.ts';
import { credentialForms } from '../../src/util/redact.ts';
import { e2e, unavailable } from './support/env.ts';
import { OWN_NAMESPACE, PROXY, REGISTRY, SECRET_NAME } from './support/scenario.ts';

// The pull secret's name is the one the RBAC and the write guard allow pullgate to write.
const NAME = SECRET_NAME;
const LICENSE = 'rs-e2e-license-3c9a71f0b2d4';
const OLD_LICENSE = 'rs-e2e-old-license-a51e07d4c8';
const MANAGED = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };

const dataFor = (licenseID: string) => derivedDockerConfigJsonBase64({ name: NAME, proxyDomain: PROXY, registryDomain: REGISTRY, licenseID });
const desired = (namespace: string, licenseID = LICENSE): PullSecretManifest => pullSecretManifest(NAME, namespace, dataFor(licenseID));
/** Every form in which either license could leak into a message. */
const LEAKS = [LICENSE, OLD_LICENSE].flatMap((id) => credentialForms(Buffer.from(dataFor(id), 'base64').toString('utf8'), id));

function coreFrom(kubeconfigPath: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc.makeApiClient(CoreV1Api);
}

/** pullgate's SecretsApi for an identity, bounded as pullgate bounds it. */
function secretsApiAs(kubeconfigPath: string): SecretsApi {
  return kubeSecretsApi(coreFrom(kubeconfigPath), new ApiCallBudget({ maxInFlight: 32, deadlineMs: 15_000 }));
}

type Verb = keyof SecretsApi;
type Hook = (call: () => Promise<unknown>) => Promise<unknown>;

/**
 * `api` with a record of the calls made (and of those that succeeded), and hooks that run around a
 * call: another writer acting just before it, to stage a race deterministically.
 */
function staged(api: SecretsApi, hooks: Partial<Record<Verb, Hook>> = {}) {
  const calls: Verb[] = [];
  const succeeded: Verb[] = [];
  const wrap =
    <A extends unknown[], R>(verb: Verb, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      calls.push(verb);
      const run = () => fn(...args);
      const hook = hooks[verb];
      const result = (await (hook ? hook(run) : run())) as R;
      succeeded.push(verb);
      return result;
    };
  const wrapped: SecretsApi = {
    read: wrap('read', api.read),
    create: wrap('create', api.create),
    replace: wrap('replace', api.replace),
    delete: wrap('delete', api.delete),
  };
  return { api: wrapped, calls, succeeded };
}

async function failureOf(work: Promise<unknown>): Promise<PullSecretError> {
  const err = await work.then(
    (value) => new Error(`expected a failure, got ${String(value)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PullSecretError);
  const error = err as PullSecretError;
  for (const leak of LEAKS) expect(`${error.message}\n${error.stack}`).not.toContain(leak);
  return error;
}

/** The license ID the stored secret carries, after checking the whole document has the contract shape. */
function licenseIn(secret: V1Secret): string {
  const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { auth: string }> };
  expect(Object.keys(config.auths).sort()).toEqual([PROXY, REGISTRY].sort());
  expect(config.auths[PROXY]).toEqual(config.auths[REGISTRY]);
  const decoded = Buffer.from(config.auths[PROXY]!.auth, 'base64').toString();
  expect(decoded).toMatch(/^LICENSE_ID:/);
  return decoded.slice('LICENSE_ID:'.length);
}

describe.skipIf(unavailable)('reconcileSecret against the API server, as pullgate', () => {
  let admin: CoreV1Api;
  let asPullgate: string;
  let pullgate: SecretsApi;
  const namespaces: string[] = [];

  beforeAll(async () => {
    const { client, env } = e2e();
    admin = coreFrom(env.cluster!.kubeconfigPath);
    asPullgate = await client.serviceAccountKubeconfig(OWN_NAMESPACE, 'pullgate');
    pullgate = secretsApiAs(asPullgate);
  });

  afterAll(async () => {
    if (unavailable) return;
    await Promise.allSettled(namespaces.map((name) => admin.deleteNamespace({ name })));
  });

  async function freshNamespace(purpose: string): Promise<string> {
    const name = `rs-${purpose}-${randomBytes(3).toString('hex')}`;
    await admin.createNamespace({ body: { metadata: { name } } });
    namespaces.push(name);
    return name;
  }

  const read = (namespace: string): Promise<V1Secret> => admin.readNamespacedSecret({ name: NAME, namespace });

  /** A secret written by someone else (the admin): another replica, an older pullgate, a person. */
  function put(namespace: string, secret: { licenseID: string; type?: string; labels?: Record<string, string>; immutable?: boolean }): Promise<V1Secret> {
    return admin.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: NAME, ...(secret.labels ? { labels: secret.labels } : {}) },
        type: secret.type ?? 'kubernetes.io/dockerconfigjson',
        ...(secret.immutable ? { immutable: true } : {}),
        data: { '.dockerconfigjson': dataFor(secret.licenseID) },
      },
    });
  }

  it('creates the secret with the contract content; a pass over what it wrote changes nothing', async () => {
    const ns = await freshNamespace('contract');
    const first = staged(pullgate);
    expect(await reconcileSecret(first.api, desired(ns), undefined)).toBe('created');
    expect(first.calls).toEqual(['read', 'create']);

    const secret = await read(ns);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret.metadata?.labels).toEqual(MANAGED);
    expect(Object.keys(secret.data ?? {})).toEqual(['.dockerconfigjson']);
    const auth = Buffer.from(`LICENSE_ID:${LICENSE}`).toString('base64');
    expect(JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString())).toEqual({ auths: { [PROXY]: { auth }, [REGISTRY]: { auth } } });

    // As a watch cache holds it: compared, no request at all.
    const cached = staged(pullgate);
    expect(await reconcileSecret(cached.api, desired(ns), secret)).toBe('unchanged');
    expect(cached.calls).toEqual([]);
    // Unknown to the caller: one read.
    const unknown = staged(pullgate);
    expect(await reconcileSecret(unknown.api, desired(ns), undefined)).toBe('unchanged');
    expect(unknown.calls).toEqual(['read']);
    expect((await read(ns)).metadata?.resourceVersion).toBe(secret.metadata?.resourceVersion);
  });

  it('repairs a tampered managed secret in place: same object, its other labels kept', async () => {
    const ns = await freshNamespace('tampered');
    const original = await put(ns, { licenseID: 'tampered-with', labels: { ...MANAGED, team: 'a' } });
    const s = staged(pullgate);
    expect(await reconcileSecret(s.api, desired(ns), undefined)).toBe('updated');
    expect(s.calls).toEqual(['read', 'replace']);
    const repaired = await read(ns);
    expect(licenseIn(repaired)).toBe(LICENSE);
    expect(repaired.metadata?.uid).toBe(original.metadata?.uid);
    expect(repaired.metadata?.labels).toEqual({ ...MANAGED, team: 'a' });
  });

  it('replaces an immutable managed secret holding stale data', async () => {
    const ns = await freshNamespace('immutable');
    const original = await put(ns, { licenseID: OLD_LICENSE, labels: MANAGED, immutable: true });
    const s = staged(pullgate);
    expect(await reconcileSecret(s.api, desired(ns), original)).toBe('replaced');
    expect(s.calls).toEqual(['delete', 'create']);
    const replaced = await read(ns);
    expect(licenseIn(replaced)).toBe(LICENSE);
    expect(replaced.metadata?.uid).not.toBe(original.metadata?.uid);
    expect(replaced.immutable).toBeUndefined();
  });

  it('replaces a managed secret of type Opaque with one of the contract type', async () => {
    const ns = await freshNamespace('opaque');
    const original = await put(ns, { licenseID: LICENSE, type: 'Opaque', labels: MANAGED });
    expect(await reconcileSecret(pullgate, desired(ns), undefined)).toBe('replaced');
    const replaced = await read(ns);
    expect(replaced.type).toBe('kubernetes.io/dockerconfigjson');
    expect(licenseIn(replaced)).toBe(LICENSE);
    expect(replaced.metadata?.labels).toEqual(MANAGED);
    expect(replaced.metadata?.uid).not.toBe(original.metadata?.uid);
  });

  it('leaves an unmanaged secret alone and says so without the credential, as a persistent failure', async () => {
    const ns = await freshNamespace('unmanaged');
    const theirs = await put(ns, { licenseID: OLD_LICENSE });
    for (const createOnly of [false, true]) {
      const s = staged(pullgate);
      const err = await failureOf(reconcileSecret(s.api, desired(ns), undefined, { createOnly }));
      expect(err.message).toContain(`${ns}/${NAME}`);
      expect(err.message).toMatch(/not managed by pullgate/);
      expect(err.persistent).toBe(true);
      expect(s.calls).toEqual(['read']);
    }
    const untouched = await read(ns);
    expect(untouched.metadata?.resourceVersion).toBe(theirs.metadata?.resourceVersion);
    expect(untouched.data).toEqual(theirs.data);
  });

  it('createOnly (admission) leaves a stale managed secret as it is', async () => {
    const ns = await freshNamespace('left');
    const stale = await put(ns, { licenseID: OLD_LICENSE, labels: MANAGED });
    for (const observed of [undefined, stale]) {
      const s = staged(pullgate);
      expect(await reconcileSecret(s.api, desired(ns), observed, { createOnly: true })).toBe('left');
      expect(s.calls).toEqual(observed ? [] : ['read']);
    }
    expect((await read(ns)).metadata?.resourceVersion).toBe(stale.metadata?.resourceVersion);
  });

  it('20 replicas creating the secret of one namespace at once: all resolve, exactly one creates it', async () => {
    const ns = await freshNamespace('concurrent');
    // Each with its own client and budget, as separate replicas are.
    const replicas = Array.from({ length: 20 }, () => staged(secretsApiAs(asPullgate)));
    const outcomes = await Promise.all(replicas.map((r) => reconcileSecret(r.api, desired(ns), undefined, { createOnly: true })));

    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'unchanged')).toHaveLength(19);
    expect(replicas.flatMap((r) => r.succeeded.filter((verb) => verb !== 'read'))).toEqual(['create']);
    const stored = await read(ns);
    expect(licenseIn(stored)).toBe(LICENSE);
    // Nothing rewrote it afterwards.
    expect(await reconcileSecret(pullgate, desired(ns), undefined)).toBe('unchanged');
    expect((await read(ns)).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('a create answered 409 (another replica was first) reads what it wrote and compares', async () => {
    const cases: Array<{ theirs: string; createOnly: boolean; outcome: ReconcileOutcome; calls: Verb[]; license: string }> = [
      { theirs: LICENSE, createOnly: true, outcome: 'unchanged', calls: ['read', 'create', 'read'], license: LICENSE },
      { theirs: OLD_LICENSE, createOnly: true, outcome: 'left', calls: ['read', 'create', 'read'], license: OLD_LICENSE },
      { theirs: OLD_LICENSE, createOnly: false, outcome: 'updated', calls: ['read', 'create', 'read', 'replace'], license: LICENSE },
    ];
    for (const c of cases) {
      const ns = await freshNamespace('create-409');
      const s = staged(pullgate, {
        // Another replica creates it between this one's read and its create.
        create: async (call) => {
          await put(ns, { licenseID: c.theirs, labels: MANAGED });
          return call();
        },
      });
      const what = `theirs ${c.theirs === LICENSE ? 'current' : 'stale'}, createOnly ${c.createOnly}`;
      expect(await reconcileSecret(s.api, desired(ns), undefined, { createOnly: c.createOnly }), what).toBe(c.outcome);
      expect(s.calls, what).toEqual(c.calls);
      expect(s.succeeded.filter((verb) => verb === 'create'), what).toEqual([]);
      expect(licenseIn(await read(ns)), what).toBe(c.license);
    }
  });

  it('a create slipping in between its delete and its create is read and compared', async () => {
    for (const interloper of [LICENSE, OLD_LICENSE]) {
      const ns = await freshNamespace('delete-create');
      await put(ns, { licenseID: OLD_LICENSE, type: 'Opaque', labels: MANAGED });
      const s = staged(pullgate, {
        delete: async (call) => {
          const deleted = await call();
          await put(ns, { licenseID: interloper, labels: MANAGED });
          return deleted;
        },
      });
      const expected = interloper === LICENSE ? 'unchanged' : 'updated';
      expect(await reconcileSecret(s.api, desired(ns), undefined)).toBe(expected);
      expect(s.calls).toEqual(interloper === LICENSE ? ['read', 'delete', 'create', 'read'] : ['read', 'delete', 'create', 'read', 'replace']);
      expect(s.succeeded.filter((verb) => verb === 'create')).toEqual([]);
      expect(licenseIn(await read(ns))).toBe(LICENSE);
    }
  });

  it('replaces conditionally: a change after its read gives 409, then one more pass from a fresh read', async () => {
    const ns = await freshNamespace('conflict');
    await put(ns, { licenseID: 'stale-one', labels: MANAGED });
    let replaces = 0;
    const s = staged(pullgate, {
      replace: async (call) => {
        if (++replaces === 1) {
          // Someone else rewrites it between this replica's read and its replace.
          const current = await read(ns);
          await admin.replaceNamespacedSecret({ name: NAME, namespace: ns, body: { ...current, data: { '.dockerconfigjson': dataFor('stale-two') } } });
        }
        return call();
      },
    });
    expect(await reconcileSecret(s.api, desired(ns), undefined)).toBe('updated');
    expect(s.calls).toEqual(['read', 'replace', 'read', 'replace']);
    expect(s.succeeded.filter((verb) => verb === 'replace')).toHaveLength(1);
    expect(licenseIn(await read(ns))).toBe(LICENSE);
  });

  it('gives up on a secret that changes before every write, with a failure worth retrying', async () => {
    const ns = await freshNamespace('churn');
    await put(ns, { licenseID: 'churn-0', labels: MANAGED });
    let round = 0;
    const s = staged(pullgate, {
      replace: async (call) => {
        const current = await read(ns);
        await admin.replaceNamespacedSecret({ name: NAME, namespace: ns, body: { ...current, data: { '.dockerconfigjson': dataFor(`churn-${++round}`) } } });
        return call();
      },
    });
    const err = await failureOf(reconcileSecret(s.api, desired(ns), undefined));
    expect(err.message).toContain(`${ns}/${NAME} kept changing`);
    expect(err.persistent).toBe(false);
    expect(s.calls).toEqual(['read', 'replace', 'read', 'replace']);
    expect(s.succeeded.filter((verb) => verb === 'replace')).toEqual([]);
  });

  it("refused by the write guard (kube-system, pullgate's own namespace): HTTP 403, persistent, nothing written", async () => {
    for (const ns of ['kube-system', OWN_NAMESPACE]) {
      const s = staged(pullgate);
      const err = await failureOf(reconcileSecret(s.api, desired(ns), undefined, { createOnly: true }));
      expect(err.message, ns).toContain(`${ns}/${NAME}`);
      expect(err.message, ns).toContain('HTTP 403');
      expect(err.persistent, ns).toBe(true);
      // RBAC lets pullgate read its secret's name anywhere; the write guard refuses the create.
      expect(s.calls, ns).toEqual(['read', 'create']);
      await expect(read(ns), ns).rejects.toMatchObject({ code: 404 });
    }
  });

  it('with an identity that has no rights: HTTP 403 from the read, persistent, nothing written', async () => {
    const ns = await freshNamespace('forbidden');
    const { client } = e2e();
    await client.kubectl(['create', 'serviceaccount', 'nobody', '-n', ns]);
    const s = staged(secretsApiAs(await client.serviceAccountKubeconfig(ns, 'nobody')));
    const err = await failureOf(reconcileSecret(s.api, desired(ns), undefined));
    expect(err.message).toContain(`${ns}/${NAME}`);
    expect(err.message).toContain('HTTP 403');
    expect(err.persistent).toBe(true);
    expect(s.calls).toEqual(['read']);
    await expect(read(ns)).rejects.toMatchObject({ code: 404 });
  });

  // Last: what the shared pullgate did meanwhile.
  it("the running pullgate's reconciler left these namespaces, neither configured nor opted in, alone", () => {
    const { env } = e2e();
    const touched = readFileSync(env.pullgate!.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.endsWith('}'))
      .map((line) => JSON.parse(line) as { msg?: string; namespace?: string })
      .filter((entry) => entry.msg?.startsWith('pull secret') && namespaces.includes(entry.namespace ?? ''));
    expect(namespaces.length).toBeGreaterThan(10);
    expect(touched).toEqual([]);
  });
});
