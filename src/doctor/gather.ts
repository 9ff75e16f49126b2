import type { KubeConfig } from '@kubernetes/client-node';
import { pullSecretSpec } from '../admission/policy.ts';
import { DOCKER_CONFIG_JSON_KEY } from '../k8s/credential-source.ts';
import { namespaceScope } from '../k8s/namespace-scope.ts';
import { derivedDockerConfigJsonBase64 } from '../k8s/pull-secret-manifest.ts';
import { call, doctorApi, errorText, readOrNull, type Api } from './doctor-api.ts';
import type { V1Deployment } from '@kubernetes/client-node';
import type { DoctorFacts, InstallationFacts, InstallGuardFacts, PullSecretFacts, PullSecretState, WebhookFacts } from './facts.ts';
import { findDeployment, gatherInstallation, pullgateContainer } from './installation-source.ts';
import { probe } from './probe-pod.ts';
import { gatherServingCertificate } from './serving-certificate-source.ts';

export interface GatherOptions {
  kubeConfig: KubeConfig;
  /** pullgate's namespace: its Deployment, ConfigMap, license and TLS Secrets. */
  ownNamespace: string;
  /** Read the configuration from this file instead of the cluster. */
  configFile?: string;
  /** Read the license from this file instead of where the configuration points. */
  licenseFile?: string;
  /** The MutatingWebhookConfiguration's name (default: the Deployment's name, else "pullgate"). */
  webhookName?: string;
  now?: Date;
}

/** What was gathered, and in words what was read to gather it. */
export interface Gathered {
  facts: DoctorFacts;
  read: string[];
}

async function gatherWebhook(api: Api, name: string, read: string[]): Promise<WebhookFacts> {
  read.push(`MutatingWebhookConfiguration ${name}`);
  try {
    const live = await readOrNull(api, `reading MutatingWebhookConfiguration ${name}`, (o) => api.admission.readMutatingWebhookConfiguration({ name }, o));
    return { name, live };
  } catch (err) {
    return { name, live: undefined, readError: errorText(err) };
  }
}

/** The install guard the Deployment names, else the chart's name for it: left behind only when pullgate never served. */
async function gatherInstallGuard(api: Api, deployment: V1Deployment | undefined, webhookName: string, read: string[]): Promise<InstallGuardFacts> {
  const args = pullgateContainer(deployment)?.args ?? [];
  const flag = args.indexOf('--install-guard');
  const named = flag >= 0 ? args[flag + 1] : undefined;
  const name = named ?? `${webhookName}-install`;
  read.push(`MutatingWebhookConfiguration ${name} (the install guard)`);
  try {
    const live = await readOrNull(api, `reading MutatingWebhookConfiguration ${name}`, (o) => api.admission.readMutatingWebhookConfiguration({ name }, o));
    return { name, configured: named !== undefined, live };
  } catch (err) {
    return { name, configured: named !== undefined, live: undefined, readError: errorText(err) };
  }
}

/** The `.dockerconfigjson` every pull secret should hold (base64), or why it is unknown. Never leaves this module. */
async function desiredPullSecretData(api: Api, inst: InstallationFacts, ns: string): Promise<{ data?: string; unknown?: string }> {
  if (!inst.config || !inst.settings || !inst.license) return { unknown: 'the license or configuration is not usable' };
  const copied = inst.config.credentials?.dockerConfigSecret;
  if (copied === undefined) return { data: derivedDockerConfigJsonBase64(pullSecretSpec(inst.settings, inst.license)) };
  try {
    const secret = await readOrNull(api, `reading Secret ${ns}/${copied}`, (o) => api.core.readNamespacedSecret({ name: copied, namespace: ns }, o));
    const data = secret?.data?.[DOCKER_CONFIG_JSON_KEY];
    return data ? { data } : { unknown: `credential Secret ${ns}/${copied} ${secret ? `has no ${DOCKER_CONFIG_JSON_KEY}` : 'does not exist'}` };
  } catch (err) {
    return { unknown: errorText(err) };
  }
}

async function gatherPullSecrets(api: Api, inst: InstallationFacts, ns: string, read: string[]): Promise<{ facts: PullSecretFacts; served: string[]; configured: string[] }> {
  const empty = { byNamespace: new Map(), missingNamespaces: [] };
  if (!inst.config || !inst.settings) return { facts: empty, served: [], configured: [] };
  const scope = namespaceScope(inst.config.namespaces, ns);
  const name = inst.settings.pullSecretName;
  read.push(`namespaces, and Secrets named ${name} in every namespace`);
  try {
    const namespaces = await call(api, 'listing namespaces', (o) => api.core.listNamespace({}, o));
    const served = namespaces.items
      .filter((n) => n.metadata?.name && scope.serves(n.metadata.name, n.metadata.labels))
      .map((n) => n.metadata!.name!)
      .sort();
    const existing = new Set(namespaces.items.map((n) => n.metadata?.name));
    const secrets = await call(api, `listing Secrets named ${name}`, (o) => api.core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${name}` }, o));
    const desired = await desiredPullSecretData(api, inst, ns);
    const byNamespace = new Map<string, PullSecretState>();
    for (const namespace of served) {
      const secret = secrets.items.find((s) => s.metadata?.namespace === namespace);
      byNamespace.set(
        namespace,
        secret
          ? {
              present: true,
              type: secret.type ?? '',
              managed: secret.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'pullgate',
              current: desired.data === undefined ? undefined : secret.data?.[DOCKER_CONFIG_JSON_KEY] === desired.data,
            }
          : { present: false },
      );
    }
    const facts: PullSecretFacts = {
      name,
      byNamespace,
      missingNamespaces: scope.configured.filter((n) => !existing.has(n)),
      ...(desired.unknown !== undefined ? { contentUnknown: desired.unknown } : {}),
    };
    return { facts, served, configured: scope.configured.filter((n) => existing.has(n)) };
  } catch (err) {
    return { facts: { ...empty, name, error: errorText(err) }, served: [], configured: [] };
  }
}

/** Everything doctor judges, read from the cluster and the files given. */
export async function gatherFacts(options: GatherOptions): Promise<Gathered> {
  const kc = options.kubeConfig;
  const api = doctorApi(kc);
  const read: string[] = [];
  const ns = options.ownNamespace;
  const deployment = await findDeployment(api, ns, read);
  const installation = await gatherInstallation(api, options, deployment, read);
  const webhook = await gatherWebhook(api, options.webhookName ?? deployment?.metadata?.name ?? 'pullgate', read);
  const installGuard = await gatherInstallGuard(api, deployment, webhook.name, read);
  const servingCertificate = await gatherServingCertificate(api, webhook.live, deployment, ns, read);
  const secrets = await gatherPullSecrets(api, installation, ns, read);
  const probeFacts = await probe(api, installation, secrets.served, secrets.configured, read);
  return {
    facts: { now: options.now ?? new Date(), ownNamespace: ns, installation, webhook, installGuard, servingCertificate, pullSecrets: secrets.facts, probe: probeFacts },
    read,
  };
}
