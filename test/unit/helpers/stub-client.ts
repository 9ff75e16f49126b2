// A stub API server with a client configured for it: its TLS material and kubeconfig in a temporary
// directory, removed on close.
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { tempDir } from './fixtures.ts';
import { startKubeStub, type KubeStub } from './kube-stub.ts';
import { generateTls } from './tls.ts';

export interface StubClient {
  stub: KubeStub;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  close(): Promise<void>;
}

export async function startStubClient(): Promise<StubClient> {
  const dir = tempDir();
  const stub = await startKubeStub(generateTls(dir.path));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(stub.writeKubeconfig(join(dir.path, 'kubeconfig')));
  return {
    stub,
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    async close() {
      await stub.close();
      dir.remove();
    },
  };
}
