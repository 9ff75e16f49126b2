import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { V1Deployment, V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { errorText, readOrNull, type Api } from './doctor-api.ts';
import type { ServingCertificateFacts } from './facts.ts';
import { deploymentFile, pullgateContainer } from './installation-source.ts';
import { flagValue } from './mounted-file.ts';

const DEFAULT_TLS_CERT_FILE = '/etc/pullgate/tls/tls.crt';
const TLS_TIMEOUT_MS = 5_000;

/** The certificate chain a TLS server presents, leaf first, as PEM. */
function presentedChain(host: string, port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // Not verified here on purpose: what it presents is checked against the caBundle, as the API server would.
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }), timeout: TLS_TIMEOUT_MS });
    socket.once('secureConnect', () => {
      const pems: string[] = [];
      const seen = new Set<string>();
      for (let cert = socket.getPeerCertificate(true); cert?.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
        seen.add(cert.fingerprint256);
        pems.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`.replace('\n\n', '\n'));
      }
      socket.destroy();
      resolve(pems);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${TLS_TIMEOUT_MS} ms`));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
  });
}

/**
 * The serving certificate: as presented at the webhook's URL, or from the TLS Secret the Deployment
 * mounts (a Service is not reachable from outside the cluster), else the chart's default Secret name.
 */
export async function gatherServingCertificate(api: Api, live: V1MutatingWebhookConfiguration | null | undefined, deployment: V1Deployment | undefined, ns: string, read: string[]): Promise<ServingCertificateFacts> {
  const client = live?.webhooks?.[0]?.clientConfig;
  if (client?.url) {
    const url = new URL(client.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const source = `the TLS handshake with ${url.host}`;
    read.push(`serving certificate: ${source}`);
    try {
      return { source, chainPem: await presentedChain(host, Number(url.port || 443)), host };
    } catch (err) {
      return { source, error: `no TLS handshake with ${url.host}: ${errorText(err)}`, host };
    }
  }
  const service = client?.service;
  const host = service ? `${service.name}.${service.namespace}.svc` : undefined;
  const path = flagValue(pullgateContainer(deployment), '--tls-cert-file') ?? DEFAULT_TLS_CERT_FILE;
  const fromDeployment = deploymentFile(deployment, path);
  const secretName = fromDeployment?.name ?? (service ? `${service.name}-tls` : undefined);
  if (!secretName) return { source: 'nowhere', error: 'no webhook configuration or Deployment says where it is' };
  const source = `Secret ${ns}/${secretName}`;
  read.push(`serving certificate: ${source}`);
  try {
    const secret: V1Secret | null = await readOrNull(api, `reading Secret ${ns}/${secretName}`, (o) => api.core.readNamespacedSecret({ name: secretName, namespace: ns }, o));
    const key = fromDeployment?.key ?? 'tls.crt';
    const data = secret?.data?.[key];
    if (!data) return { source, error: `${source} ${secret ? `has no key ${key}` : 'does not exist'}`, ...(host ? { host } : {}) };
    return { source, chainPem: [Buffer.from(data, 'base64').toString('utf8')], ...(host ? { host } : {}) };
  } catch (err) {
    return { source, error: errorText(err), ...(host ? { host } : {}) };
  }
}
