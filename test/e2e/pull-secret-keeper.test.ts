// PullSecretKeeper against a real kube-apiserver: the contract content, the caches and the races
// between concurrent checks, replicas and license rotations. Each test uses its own namespace.
import { randomBytes } from 'node:crypto';
import { ApiException, CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PullSecretKeeper, type EnsureResult, type PullSecretKeeperOptions } from '../../src/k8s/pull-secret-keeper.ts';
import type { PullSecretSpec } from '../../src/k8s/pull-secret-manifest.ts';
import { createLogger } from '../../src/logger.ts';
import { e2e, unavailable } from './support/env.ts';
import { PROXY, REGISTRY } from './support/scenario.ts';

const NAME = 'keeper-e2e-registry';
const OLD_LICENSE = 'keeper-old-license-7f3a91c0d2';
const NEW_LICENSE = 'keeper-new-license-b84e15a6f9';
const spec = (licenseID: string): PullSecretSpec => ({ name: NAME, proxyDomain: PROXY, registryDomain: REGISTRY, licenseID });
const authFor = (licenseID: string) => Buffer.from(`LICENSE_ID:${licenseID}`).toString('base64');
const dataFor = (licenseID: string) => Buffer.from(JSON.stringify({ auths: { [PROXY]: { auth: authFor(licenseID) }, [REGISTRY]: { auth: authFor(licenseID) } } })).toString('base64');
const MANAGED = { 'app.kubernetes.io/managed-by': 'pullgate' };

// Everything every keeper logs, at debug level; no line may ever carry a credential.
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });

/** Forms in which a license can leak: the ID, the auth value and the whole secret data. */
function credentialForms(licenseID: string): string[] {
  return [licenseID, authFor(licenseID), dataFor(licenseID)];
}

function apiFrom(kubeconfigPath: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc.makeApiClient(CoreV1Api);
}

let adminApi: CoreV1Api | undefined;
function admin(): CoreV1Api {
  adminApi ??= apiFrom(e2e().env.cluster!.kubeconfigPath);
  return adminApi;
}

const namespaces: string[] = [];
async function freshNamespace(purpose: string): Promise<string> {
  const name = `psk-${purpose}-${randomBytes(3).toString('hex')}`;
  await admin().createNamespace({ body: { metadata: { name } } });
  namespaces.push(name);
  return name;
}

type Hook = (call: () => Promise<any>, param: any) => Promise<any>;

/**
 * The admin CoreV1Api behind a Proxy that counts calls (and successful ones) by method, and lets a
 * test run code around any call to stage a race deterministically.
 */
function instrumented(api: CoreV1Api, hooks: Record<string, Hook> = {}) {
  const calls: string[] = [];
  const succeeded: string[] = [];
  const proxy = new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (param: unknown, ...rest: unknown[]) => {
        calls.push(prop);
        const call = () => (value as (...a: unknown[]) => Promise<unknown>).call(target, param, ...rest);
        const hook = hooks[prop];
        return (hook ? hook(call, param) : call()).then((result: unknown) => {
          succeeded.push(prop);
          return result;
        });
      };
    },
  });
  const count = (list: string[], method?: string) => (method ? list.filter((m) => m === method).length : list.length);
  const writes = () => succeeded.filter((m) => /^(create|replace|patch|delete)NamespacedSecret$/.test(m)).length;
  return { api: proxy, calls, succeeded, count, writes };
}

function keeper(licenseID: string, api: CoreV1Api, options: Partial<PullSecretKeeperOptions> = {}): PullSecretKeeper {
  return new PullSecretKeeper(spec(licenseID), { api, logger, ...options });
}

const readSecret = (namespace: string): Promise<V1Secret> => admin().readNamespacedSecret({ name: NAME, namespace });

/** The license ID the stored secret carries, after checking the whole document has the contract shape. */
function licenseIn(secret: V1Secret): string {
  const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { auth: string }> };
  expect(Object.keys(config.auths).sort()).toEqual([PROXY, REGISTRY].sort());
  expect(config.auths[PROXY]).toEqual(config.auths[REGISTRY]);
  const decoded = Buffer.from(config.auths[PROXY]!.auth, 'base64').toString();
  expect(decoded).toMatch(/^LICENSE_ID:/);
  return decoded.slice('LICENSE_ID:'.length);
}

async function createSecret(namespace: string, secret: Omit<V1Secret, 'metadata'> & { labels?: Record<string, string> }): Promise<V1Secret> {
  const { labels, ...rest } = secret;
  return admin().createNamespacedSecret({ namespace, body: { metadata: { name: NAME, ...(labels ? { labels } : {}) }, ...rest } });
}

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe.skipIf(unavailable)('PullSecretKeeper against the API server', () => {
  afterEach(() => {
    const leaked = logLines.filter((line) => [...credentialForms(OLD_LICENSE), ...credentialForms(NEW_LICENSE)].some((form) => line.includes(form)));
    expect(leaked).toEqual([]);
  });

  afterAll(async () => {
    if (unavailable) return;
    await Promise.allSettled(namespaces.map((name) => admin().deleteNamespace({ name })));
  });

  it('creates the secret with the contract content, then answers from its cache; with no TTL it reads and writes nothing', async () => {
    const ns = await freshNamespace('contract');
    const counted = instrumented(admin());
    const k = keeper(NEW_LICENSE, counted.api);

    expect(await k.ensure(ns)).toBe('created');
    const secret = await readSecret(ns);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret.metadata?.labels).toEqual(MANAGED);
    expect(Object.keys(secret.data ?? {})).toEqual(['.dockerconfigjson']);
    const auth = authFor(NEW_LICENSE);
    expect(JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString())).toEqual({ auths: { [PROXY]: { auth }, [REGISTRY]: { auth } } });

    const callsBefore = counted.count(counted.calls);
    expect(await k.ensure(ns)).toBe('cached');
    expect(counted.count(counted.calls)).toBe(callsBefore);

    const uncached = instrumented(admin());
    expect(await keeper(NEW_LICENSE, uncached.api, { ttlMs: 0 }).ensure(ns)).toBe('unchanged');
    expect(uncached.calls).toEqual(['readNamespacedSecret']);
    expect((await readSecret(ns)).metadata?.resourceVersion).toBe(secret.metadata?.resourceVersion);
  });

  it('20 concurrent checks of one namespace share one check and create the secret once', async () => {
    const ns = await freshNamespace('concurrent');
    const counted = instrumented(admin());
    const results: Array<EnsureResult | 'error'> = [];
    const k = keeper(NEW_LICENSE, counted.api, { onResult: (r) => results.push(r) });

    const answers = await Promise.all(Array.from({ length: 20 }, () => k.ensure(ns)));
    expect(answers).toEqual(Array(20).fill('created'));
    expect(results).toEqual(['created']); // one check, reported once
    expect(counted.calls).toEqual(['readNamespacedSecret', 'createNamespacedSecret']);

    const stored = await readSecret(ns);
    expect(licenseIn(stored)).toBe(NEW_LICENSE);
    // Nothing rewrote it afterwards: the resourceVersion is still the one the create produced.
    expect(await keeper(NEW_LICENSE, admin(), { ttlMs: 0 }).ensure(ns)).toBe('unchanged');
    expect((await readSecret(ns)).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('20 replicas checking one namespace at once: all resolve and exactly one creates it', async () => {
    const ns = await freshNamespace('replicas');
    const replicas = Array.from({ length: 20 }, () => instrumented(admin()));
    const answers = await Promise.all(replicas.map((r) => keeper(NEW_LICENSE, r.api).ensure(ns)));

    expect(answers.filter((a) => a === 'created')).toHaveLength(1);
    expect(answers.filter((a) => a === 'unchanged')).toHaveLength(19);
    expect(replicas.reduce((n, r) => n + r.writes(), 0)).toBe(1);
    const stored = await readSecret(ns);
    expect(licenseIn(stored)).toBe(NEW_LICENSE);
    expect(await keeper(NEW_LICENSE, admin(), { ttlMs: 0 }).ensure(ns)).toBe('unchanged');
    expect((await readSecret(ns)).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('two replicas racing with the old and the new license: the new-license replica has the last word', async () => {
    for (const start of ['missing', 'old', 'new'] as const) {
      for (let round = 0; round < 3; round++) {
        const ns = await freshNamespace(`rotate-${start}`);
        if (start !== 'missing') await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, data: { '.dockerconfigjson': dataFor(start === 'old' ? OLD_LICENSE : NEW_LICENSE) } });
        const oldReplica = keeper(OLD_LICENSE, admin(), { ttlMs: 0 });
        const newReplica = keeper(NEW_LICENSE, admin(), { ttlMs: 0 });

        const settled = await Promise.allSettled(round % 2 ? [newReplica.ensure(ns), oldReplica.ensure(ns)] : [oldReplica.ensure(ns), newReplica.ensure(ns)]);
        const rejected = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [String(outcome.reason)] : []));
        for (const reason of rejected) expect(reason).not.toMatch(new RegExp(`${OLD_LICENSE}|${NEW_LICENSE}`));
        // Conflicts are resolved by reading again, never surfaced: both checks resolve.
        expect(rejected, `${start}, round ${round}`).toHaveLength(0);
        expect(['unchanged', 'updated']).toContain(await newReplica.ensure(ns));
        expect(licenseIn(await readSecret(ns)), `${start}, round ${round}`).toBe(NEW_LICENSE);
      }
    }
  });

  it('a check started after setSpec never joins the check of the previous license', async () => {
    const ns = await freshNamespace('setspec');
    // The first read answers (404) but its answer is held back until the test lets it through.
    const held = gate();
    const answered = gate();
    let reads = 0;
    const counted = instrumented(admin(), {
      readNamespacedSecret: async (call) => {
        const first = ++reads === 1;
        try {
          return await call();
        } finally {
          if (first) {
            answered.open();
            await held.opened;
          }
        }
      },
    });
    const k = keeper(OLD_LICENSE, counted.api);

    const before = k.ensure(ns);
    await answered.opened; // the old-license check has its read's answer and is held right there
    k.setSpec(spec(NEW_LICENSE));
    const after = k.ensure(ns).then(async (result) => ({ result, license: licenseIn(await readSecret(ns)) }));

    const settledFirst = await Promise.race([after.then(() => 'after'), new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
    expect(settledFirst).toBe('after'); // it did not wait for the old check
    expect(await after).toEqual({ result: 'created', license: NEW_LICENSE });

    held.open();
    // The old check, now stale, answers with the current license's check instead of writing its own.
    expect(['cached', 'unchanged']).toContain(await before);
    expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
    expect(counted.count(counted.succeeded, 'createNamespacedSecret')).toBe(1);
    expect(counted.count(counted.calls, 'replaceNamespacedSecret')).toBe(0);
    expect(await k.ensure(ns)).toBe('cached');
  });

  it('repairs a tampered managed secret in place', async () => {
    const ns = await freshNamespace('tampered');
    const original = await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: { ...MANAGED, team: 'a' }, data: { '.dockerconfigjson': dataFor('tampered') } });

    expect(await keeper(NEW_LICENSE, admin()).ensure(ns)).toBe('updated');
    const repaired = await readSecret(ns);
    expect(licenseIn(repaired)).toBe(NEW_LICENSE);
    expect(repaired.metadata?.uid).toBe(original.metadata?.uid);
    expect(repaired.metadata?.labels).toEqual({ ...MANAGED, team: 'a' });
  });

  it('replaces an immutable managed secret holding stale data', async () => {
    const ns = await freshNamespace('immutable');
    const original = await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, immutable: true, data: { '.dockerconfigjson': dataFor(OLD_LICENSE) } });

    expect(await keeper(NEW_LICENSE, admin()).ensure(ns)).toBe('updated');
    const replaced = await readSecret(ns);
    expect(licenseIn(replaced)).toBe(NEW_LICENSE);
    expect(replaced.metadata?.uid).not.toBe(original.metadata?.uid);
    expect(replaced.immutable).toBeUndefined();
  });

  it('replaces a managed secret of type Opaque with one of the right type', async () => {
    const ns = await freshNamespace('opaque');
    await createSecret(ns, { type: 'Opaque', labels: MANAGED, data: { '.dockerconfigjson': dataFor(NEW_LICENSE) } });

    expect(await keeper(NEW_LICENSE, admin()).ensure(ns)).toBe('updated');
    const replaced = await readSecret(ns);
    expect(replaced.type).toBe('kubernetes.io/dockerconfigjson');
    expect(licenseIn(replaced)).toBe(NEW_LICENSE);
    expect(replaced.metadata?.labels).toEqual(MANAGED);
  });

  it('on 409 from its create, reads what the other replica wrote and repairs an older license', async () => {
    const ns = await freshNamespace('create-409');
    const counted = instrumented(admin(), {
      // Another replica, still on the old license, creates the secret just before this one does.
      createNamespacedSecret: async (call) => {
        await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, data: { '.dockerconfigjson': dataFor(OLD_LICENSE) } });
        return call();
      },
    });
    expect(await keeper(NEW_LICENSE, counted.api).ensure(ns)).toBe('updated');
    expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
    expect(counted.calls).toEqual(['readNamespacedSecret', 'createNamespacedSecret', 'readNamespacedSecret', 'replaceNamespacedSecret']);
  });

  it('on 409 from its create, accepts what another replica with the same license wrote', async () => {
    const ns = await freshNamespace('create-409-same');
    const counted = instrumented(admin(), {
      createNamespacedSecret: async (call) => {
        await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, data: { '.dockerconfigjson': dataFor(NEW_LICENSE) } });
        return call();
      },
    });
    expect(await keeper(NEW_LICENSE, counted.api).ensure(ns)).toBe('unchanged');
    expect(counted.calls).toEqual(['readNamespacedSecret', 'createNamespacedSecret', 'readNamespacedSecret']);
  });

  it('a create slipping in between its delete and its create is read and compared', async () => {
    for (const interloper of [NEW_LICENSE, OLD_LICENSE]) {
      const ns = await freshNamespace('delete-create');
      await createSecret(ns, { type: 'Opaque', labels: MANAGED, data: { '.dockerconfigjson': dataFor(OLD_LICENSE) } });
      const counted = instrumented(admin(), {
        deleteNamespacedSecret: async (call) => {
          const status = await call();
          await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, data: { '.dockerconfigjson': dataFor(interloper) } });
          return status;
        },
      });
      const expected = interloper === NEW_LICENSE ? 'unchanged' : 'updated';
      expect(await keeper(NEW_LICENSE, counted.api).ensure(ns)).toBe(expected);
      expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
      expect(counted.count(counted.calls, 'createNamespacedSecret')).toBe(1);
      expect(counted.count(counted.succeeded, 'createNamespacedSecret')).toBe(0);
    }
  });

  it('replaces conditionally: a change after its read gives 409 and one more round from a fresh read', async () => {
    const ns = await freshNamespace('conflict');
    await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, data: { '.dockerconfigjson': dataFor('stale-one') } });
    let replaces = 0;
    const counted = instrumented(admin(), {
      replaceNamespacedSecret: async (call) => {
        if (++replaces === 1) {
          // Someone else rewrites it between this replica's read and its replace.
          const current = await readSecret(ns);
          await admin().replaceNamespacedSecret({ name: NAME, namespace: ns, body: { ...current, data: { '.dockerconfigjson': dataFor('stale-two') } } });
        }
        return call();
      },
    });
    expect(await keeper(NEW_LICENSE, counted.api).ensure(ns)).toBe('updated');
    expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
    expect(counted.calls).toEqual(['readNamespacedSecret', 'replaceNamespacedSecret', 'readNamespacedSecret', 'replaceNamespacedSecret']);
    expect(counted.count(counted.succeeded, 'replaceNamespacedSecret')).toBe(1);
  });

  it('leaves an unmanaged secret alone, says so without the credential, and remembers the refusal for a while', async () => {
    const ns = await freshNamespace('unmanaged');
    const theirs = await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dataFor('customer-own') } });
    let clock = 1_000_000;
    const counted = instrumented(admin());
    const results: Array<EnsureResult | 'error'> = [];
    const k = keeper(NEW_LICENSE, counted.api, { now: () => clock, onResult: (r) => results.push(r) });

    const first = await k.ensure(ns).then(() => undefined, (err: Error) => err);
    expect(first).toBeInstanceOf(Error);
    expect(first!.message).toContain(`${ns}/${NAME}`);
    expect(first!.message).toMatch(/not managed by pullgate/);
    for (const form of credentialForms(NEW_LICENSE)) expect(first!.message).not.toContain(form);
    const untouched = await readSecret(ns);
    expect(untouched.metadata?.resourceVersion).toBe(theirs.metadata?.resourceVersion);
    expect(untouched.data).toEqual(theirs.data);
    const calls = counted.calls.length;
    expect(calls).toBe(1);

    clock += 4_000;
    const second = await k.ensure(ns).then(() => undefined, (err: Error) => err);
    expect(second?.message).toBe(first!.message);
    expect(counted.calls.length).toBe(calls); // answered from memory
    expect(results).toEqual(['error', 'error']);

    clock += 2_000; // past the window: asks again
    await expect(k.ensure(ns)).rejects.toThrow(`${ns}/${NAME}`);
    expect(counted.calls.length).toBe(calls + 1);
  });

  it('with forbidden credentials, rejects with HTTP 403 and never the license, and does not ask again at once', async () => {
    const ns = await freshNamespace('forbidden');
    const { client } = e2e();
    await client.kubectl(['create', 'serviceaccount', 'nobody', '-n', ns]);
    const counted = instrumented(apiFrom(await client.serviceAccountKubeconfig(ns, 'nobody')));
    const k = keeper(NEW_LICENSE, counted.api);

    const err = await k.ensure(ns).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('HTTP 403');
    expect(err!.message).toContain(`${ns}/${NAME}`);
    for (const form of credentialForms(NEW_LICENSE)) expect(`${err!.message}\n${err!.stack}`).not.toContain(form);
    expect(counted.calls).toEqual(['readNamespacedSecret']);

    await expect(k.ensure(ns)).rejects.toThrow('HTTP 403');
    expect(counted.calls).toEqual(['readNamespacedSecret']);
    await expect(admin().readNamespacedSecret({ name: NAME, namespace: ns })).rejects.toMatchObject({ code: 404 });
  });

  it('stops joining a check whose API call hangs, so later Pods are not held by it', async () => {
    const ns = await freshNamespace('hung');
    const stuck = gate();
    let reads = 0;
    const counted = instrumented(admin(), {
      // The first read never answers (until the end of the test); later ones go through.
      readNamespacedSecret: async (call) => (++reads === 1 ? stuck.opened.then(call) : call()),
    });
    let clock = 0;
    const k = keeper(NEW_LICENSE, counted.api, { ttlMs: 0, joinWindowMs: 1_000, now: () => clock });
    const hung = k.ensure(ns);
    clock += 500; // within the window: joins the hung check
    const joined = k.ensure(ns);
    expect(reads).toBe(1);
    clock += 1_000; // past it: a check of its own, which creates the secret
    await expect(k.ensure(ns)).resolves.toBe('created');
    expect(reads).toBe(2);
    expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
    stuck.open();
    // The hung check finally answers, sees the secret already right, and writes nothing.
    await expect(hung).resolves.toBe('unchanged');
    await expect(joined).resolves.toBe('unchanged');
    expect(counted.count(counted.succeeded, 'createNamespacedSecret')).toBe(1);
  });

  it('retries the create after deleting a stale immutable secret, so the namespace is not left without one', async () => {
    const ns = await freshNamespace('recreate');
    await createSecret(ns, { type: 'kubernetes.io/dockerconfigjson', labels: MANAGED, immutable: true, data: { '.dockerconfigjson': dataFor(OLD_LICENSE) } });
    let creates = 0;
    const counted = instrumented(admin(), {
      // The first create after the delete fails as a passing server error would.
      createNamespacedSecret: async (call) => {
        if (++creates === 1) throw new ApiException(500, 'server error', { kind: 'Status', code: 500, message: 'etcdserver: request timed out' }, {});
        return call();
      },
    });
    await expect(keeper(NEW_LICENSE, counted.api).ensure(ns)).resolves.toBe('updated');
    expect(creates).toBe(2);
    expect(licenseIn(await readSecret(ns))).toBe(NEW_LICENSE);
  });
});
