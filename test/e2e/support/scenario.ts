// The configuration every end-to-end test (and the demo) runs pullgate with.
export const LICENSE_ID = 'e2e-license-0d7c5f2a9b1e4c33';
export const APP_NAMESPACE = 'my-app';
export const ADDITIONAL_NAMESPACE = 'monitoring';
export const OWN_NAMESPACE = 'pullgate';
export const PROXY = 'proxy.example.com';
export const REGISTRY = 'registry.example.com';
export const SECRET_NAME = 'my-app-registry';
export const OPT_IN_LABEL = 'pullgate.dev/inject=enabled';

export const LICENSE_YAML = `apiVersion: kots.io/v1beta1
kind: License
metadata:
  name: acme-customer
spec:
  licenseID: ${LICENSE_ID}
  appSlug: my-app
  customerName: ACME Customer
  entitlements:
    expires_at:
      title: Expiration
      value: ""
`;

export function configYaml(licenseFile: string): string {
  return `proxyDomain: ${PROXY}
registryDomain: ${REGISTRY}
appSlug: my-app
license:
  file: ${licenseFile}
privateRegistries: [quay.io/acme, docker.io/acme]
pullSecret:
  name: ${SECRET_NAME}
namespaces:
  application: ${APP_NAMESPACE}
  additional: [${ADDITIONAL_NAMESPACE}]
  optInLabel: ${OPT_IN_LABEL}
  exclude: [kube-system]
`;
}

/** The proxied form of a private image, per the contract. */
export function proxied(hostAndPath: string): string {
  return `${PROXY}/proxy/my-app/${hostAndPath}`;
}
