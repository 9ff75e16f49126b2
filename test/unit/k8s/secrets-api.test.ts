// kubeSecretsApi over a real CoreV1Api talking to a stub API server: the four calls, 404 on read
// as "absent", and every failure turned into an ApiCallError that names the call, the object, the
// status and the Status reason, and nothing the API server said besides.
import { createServer, type AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiCallBudget } from '../../../src/k8s/api-call-budget.ts';
import { ApiCallError } from '../../../src/k8s/api-error.ts';
import { kubeSecretsApi, type SecretsApi } from '../../../src/k8s/secrets-api.ts';
import { AUTH, LICENSE_ID } from '../helpers/fixtures.ts';
import { kubeStatus, type KubeStub } from '../helpers/kube-stub.ts';
import { startStubClient, type StubClient } from '../helpers/stub-client.ts';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });

const DOCKER_CONFIG = JSON.stringify({ auths: { 'proxy.example.com': { auth: AUTH } } });
const DATA = Buffer.from(DOCKER_CONFIG).toString('base64');
/** Everything a Status message in these tests echoes, none of which may reach an error. */
const LEAKS = [LICENSE_ID, AUTH, DATA, DOCKER_CONFIG, 'denied by policy'];

function secret(name: string, extra: Partial<V1Secret> = {}): V1Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'team-a' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': DATA }, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<ApiCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiCallError);
  const error = err as ApiCallError;
  for (const leak of LEAKS) expect(`${error.message}\n${error.stack}`).not.toContain(leak);
  expect((error as { cause?: unknown }).cause).toBeUndefined();
  return error;
}

describe('kubeSecretsApi', () => {
  let client: StubClient;
  let stub: KubeStub;
  let core: CoreV1Api;
  let api: SecretsApi;

  beforeAll(async () => {
    client = await startStubClient();
    ({ stub, core } = client);
    api = kubeSecretsApi(core, new ApiCallBudget({ maxInFlight: 4, deadlineMs: 10_000 }));
  });
  afterEach(() => {
    delete stub.intercept;
    stub.calls.length = 0;
    stub.secrets.clear();
  });
  afterAll(() => client.close());

  it('reads a missing secret as undefined, creates, reads, replaces and deletes with preconditions', async () => {
    await expect(api.read('team-a', 's')).resolves.toBeUndefined();
    expect((await api.create('team-a', secret('s'))).metadata?.name).toBe('s');
    const read = await api.read('team-a', 's');
    expect(read?.data).toEqual({ '.dockerconfigjson': DATA });
    const rv = read!.metadata!.resourceVersion!;
    const replaced = await api.replace('team-a', 's', secret('s', { metadata: { name: 's', namespace: 'team-a', resourceVersion: rv } }));
    const { resourceVersion, uid } = replaced.metadata!;
    await api.delete('team-a', 's', { resourceVersion: resourceVersion!, uid: uid! });
    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /api/v1/namespaces/team-a/secrets/s',
      'POST /api/v1/namespaces/team-a/secrets',
      'GET /api/v1/namespaces/team-a/secrets/s',
      'PUT /api/v1/namespaces/team-a/secrets/s',
      'DELETE /api/v1/namespaces/team-a/secrets/s',
    ]);
    expect((stub.calls[3]!.body as V1Secret).metadata?.resourceVersion).toBe(rv);
    expect(stub.calls[4]!.body).toMatchObject({ preconditions: { resourceVersion, uid } });
    expect(stub.secrets.has('team-a/s')).toBe(false);
  });

  const statuses: Array<[string, (api: SecretsApi) => Promise<unknown>, number, string, string]> = [
    ['read', (a) => a.read('team-a', 's'), 403, 'Forbidden', 'reading secret team-a/s failed with HTTP 403 (Forbidden)'],
    ['create', (a) => a.create('team-a', secret('s')), 409, 'AlreadyExists', 'creating secret team-a/s failed with HTTP 409 (AlreadyExists)'],
    ['replace', (a) => a.replace('team-a', 's', secret('s')), 409, 'Conflict', 'replacing secret team-a/s failed with HTTP 409 (Conflict)'],
    ['replace', (a) => a.replace('team-a', 's', secret('s')), 422, 'Invalid', 'replacing secret team-a/s failed with HTTP 422 (Invalid)'],
    ['delete', (a) => a.delete('team-a', 's', { uid: 'u' }), 404, 'NotFound', 'deleting secret team-a/s failed with HTTP 404 (NotFound)'],
    ['create', (a) => a.create('team-a', secret('s')), 500, 'InternalError', 'creating secret team-a/s failed with HTTP 500 (InternalError)'],
  ];
  for (const [call, run, code, reason, message] of statuses) {
    it(`${call} answered ${code}: status and reason only, never the Status message`, async () => {
      // An admission policy's message may quote the object it refused, Secret data included.
      stub.intercept = () => ({ status: code, body: kubeStatus(code, reason, `denied by policy: ${DATA} ${DOCKER_CONFIG} ${LICENSE_ID}`) });
      const err = await failure(run(api));
      expect(err).toMatchObject({ kind: 'http', status: code, reason });
      expect(err.message).toBe(message);
    });
  }

  it('shows no reason that is not one (a body that is not a Status, an odd reason)', async () => {
    stub.intercept = () => ({ status: 502, body: `bad gateway ${LICENSE_ID}` });
    const plain = await failure(api.read('team-a', 's'));
    expect(plain).toMatchObject({ kind: 'http', status: 502, message: 'reading secret team-a/s failed with HTTP 502' });
    expect(plain.reason).toBeUndefined();

    stub.intercept = () => ({ status: 403, body: kubeStatus(403, `Forbidden ${LICENSE_ID}`, 'x') });
    const odd = await failure(api.read('team-a', 's'));
    expect(odd.message).toBe('reading secret team-a/s failed with HTTP 403');
  });

  it('a call the API server never answers fails as a timeout naming the call', async () => {
    stub.intercept = () => 'hang';
    const quick = kubeSecretsApi(core, new ApiCallBudget({ maxInFlight: 4, deadlineMs: 300 }));
    const err = await failure(quick.create('team-a', secret('s')));
    expect(err).toMatchObject({ kind: 'timeout', message: 'creating secret team-a/s failed: no answer within 300 ms' });
    expect(err.status).toBeUndefined();
  });

  it('a call past the budget is not sent and says so', async () => {
    stub.intercept = () => 'hang';
    const budget = new ApiCallBudget({ maxInFlight: 1, deadlineMs: 500 });
    const narrow = kubeSecretsApi(core, budget);
    const first = narrow.read('team-a', 'a').catch((e: unknown) => e);
    const err = await failure(narrow.read('team-a', 'b'));
    expect(err).toMatchObject({ kind: 'saturated', message: 'reading secret team-a/b failed: not sent: API calls in flight at the limit (1)' });
    expect(await first).toBeInstanceOf(ApiCallError);
  });

  it('an API server that cannot be reached is a network failure with the system error code', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: LICENSE_ID }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const unreachable = kubeSecretsApi(kc.makeApiClient(CoreV1Api), new ApiCallBudget({ maxInFlight: 1, deadlineMs: 10_000 }));
    const err = await failure(unreachable.read('team-a', 's'));
    expect(err).toMatchObject({ kind: 'network', message: 'reading secret team-a/s failed without an answer from the API server (ECONNREFUSED)' });
  });
});
