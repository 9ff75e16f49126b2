import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';

export interface PullSecretSpec {
  name: string;
  proxyDomain: string;
  registryDomain: string;
  licenseID: string;
}

export interface PullSecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  type: 'kubernetes.io/dockerconfigjson';
  data: { '.dockerconfigjson': string };
}

/** The `.dockerconfigjson` document, as text. Contains the credential: never log it. */
export function dockerConfigJson(spec: PullSecretSpec): string {
  const auth = Buffer.from(`LICENSE_ID:${spec.licenseID}`).toString('base64');
  return JSON.stringify({ auths: { [spec.proxyDomain]: { auth }, [spec.registryDomain]: { auth } } });
}

/** The license-derived `.dockerconfigjson`, base64-encoded as a Secret's data holds it. */
export function derivedDockerConfigJsonBase64(spec: PullSecretSpec): string {
  return Buffer.from(dockerConfigJson(spec)).toString('base64');
}

/**
 * The pull secret pullgate keeps in each namespace it serves (format fixed by the contract), with
 * `dockerConfigJsonBase64` as its data: license-derived (derivedDockerConfigJsonBase64) or copied
 * as-is from a configured Secret.
 */
export function pullSecretManifest(name: string, namespace: string, dockerConfigJsonBase64: string): PullSecretManifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': dockerConfigJsonBase64 },
  };
}
