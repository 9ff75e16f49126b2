// The copied credential (credentials.dockerConfigSecret) against a stub API server: its change
// callback must fire at a moment when current() already returns the credential, whatever the
// order in which the list, the watch and the callers' own start-up happen. The cache's objects
// arrive (and fire their change events) before the watch is connected and the cache is synced;
// a callback seen only then would leave the reconciler holding "not read yet" until its resync.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copiedCredential, type Credential } from '../../../src/k8s/credential-source.ts';
import { eventually } from '../../support/eventually.ts';
import { captureLogs } from '../helpers/logs.ts';
import { startStubClient, type StubClient } from '../helpers/stub-client.ts';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 30_000 });

const DATA = Buffer.from(JSON.stringify({ auths: { 'proxy.example.com': { auth: 'dmVuZG9yOnRva2Vu' } } })).toString('base64');

describe('copiedCredential', () => {
  let client: StubClient;

  beforeAll(async () => {
    client = await startStubClient();
  });
  afterAll(() => client.close());

  it('calls back once the credential can be read, even when the watch connects after the list', async () => {
    const { stub } = client;
    stub.secrets.set('home/vendor-pull', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': DATA } });
    // The watch is held back: the list is in, its objects are cached, the cache is not yet synced.
    stub.intercept = (call) => (call.watch ? 'hang' : undefined);
    const seen: Credential[] = [];
    const source = copiedCredential({
      kubeConfig: client.kubeConfig,
      core: client.core,
      namespace: 'home',
      name: 'vendor-pull',
      logger: captureLogs().logger,
      onChange: () => seen.push(source.current()),
    });
    source.start();
    try {
      const held = await eventually('the watch request', () => stub.hung.find((h) => h.call.watch), 10_000);
      delete stub.intercept;
      held.release();
      await eventually('the credential source to sync', () => source.synced(), 10_000);
      expect(source.current()).toEqual({ dockerConfigJson: DATA });
      // The last callback saw what a caller reacting to it would read: the credential itself.
      expect(seen.at(-1)).toEqual({ dockerConfigJson: DATA });
    } finally {
      await source.stop();
    }
  });
});
