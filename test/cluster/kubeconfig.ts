// Self-contained kubeconfig files (certificates inlined as *-data) so a file can be handed to
// kubectl, helm, @kubernetes/client-node or pullgate itself without companion files.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export type KubeconfigUser = { clientCertPem: string; clientKeyPem: string } | { token: string };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

export function renderKubeconfig(server: string, caPem: string, userName: string, user: KubeconfigUser, namespace = 'default'): string {
  const credentials =
    'token' in user
      ? { token: user.token }
      : { 'client-certificate-data': b64(user.clientCertPem), 'client-key-data': b64(user.clientKeyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: userName, user: credentials }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: userName, namespace } }],
    'current-context': 'test',
    preferences: {},
  });
}

export function writeKubeconfig(path: string, ...args: Parameters<typeof renderKubeconfig>): string {
  // 0600: kubectl and helm warn about group/world-readable kubeconfigs.
  writeFileSync(path, renderKubeconfig(...args), { mode: 0o600 });
  return path;
}
