// The test control plane's public surface (see README.md).
export { startCluster, DEFAULT_CONTROLLERS, DEFAULT_AUDIT_POLICY, type Cluster, type StartClusterOptions } from './cluster.ts';
export { clusterClient, CommandError, type ClusterClient, type ClusterInfo, type RunOptions, type RunResult } from './client.ts';
export { ensureBinaries, controlPlaneUnavailableReason, GoToolchainMissingError, isCI } from './ensure-binaries.ts';
export { createCertificateAuthority, issueServingCert, issueClientCert, generateRsaKeyPair, type CertificateAuthority, type CertAndKey } from '../../src/tls/certificates.ts';
export { renderKubeconfig, writeKubeconfig } from './kubeconfig.ts';
