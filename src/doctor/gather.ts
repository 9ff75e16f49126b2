import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { isIP } from 'node:net';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ResponseContext,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { pullSecretSpec } from '../admission/policy.ts';
import { checkConfig, effectiveSettings, ConfigError, type EffectiveSettings, type PullgateConfig } from '../config.ts';
import { ApiCallBudget, signalOptions } from '../k8s/api-call-budget.ts';
import { apiCallError, statusOf } from '../k8s/api-error.ts';
import { DOCKER_CONFIG_JSON_KEY } from '../k8s/credential-source.ts';
import { namespaceScope } from '../k8s/namespace-scope.ts';
import { derivedDockerConfigJsonBase64 } from '../k8s/pull-secret-manifest.ts';
import { LicenseError, parseLicense, type License } from '../license/license.ts';
import { credentialForms, redactCredential } from '../util/redact.ts';
import type { DoctorFacts, InstallationFacts, ProbeFacts, PullSecretFacts, PullSecretState, ServingCertificateFacts, WebhookFacts } from './facts.ts';
import { flagValue, mountedFile, type MountedFile } from './mounted-file.ts';
import { warningTexts } from './warnings.ts';

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

const DEFAULT_CONFIG_FILE = '/etc/pullgate/config/config.yaml';
const DEFAULT_TLS_CERT_FILE = '/etc/pullgate/tls/tls.crt';
const DEPLOYMENT_SELECTOR = 'app.kubernetes.io/name=pullgate';
const DEADLINE_MS = 15_000;
/** The API server waits on a webhook for up to 30 s (timeoutSeconds' maximum): the probe outlasts it, to hear how the call ended. */
const PROBE_DEADLINE_MS = 35_000;
const TLS_TIMEOUT_MS = 5_000;

interface Api {
  core: CoreV1Api;
  apps: AppsV1Api;
  admission: AdmissionregistrationV1Api;
  budget: ApiCallBudget;
}

/** Runs `call` within the deadline; a failure becomes an error naming `what`, never a response body. */
function call<T>(api: Api, what: string, fn: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
  return api.budget.run((signal) => fn(signalOptions(signal))).catch((err: unknown) => {
    throw apiCallError(what, err);
  });
}

/** `call`, with 404 as null. */
async function readOrNull<T>(api: Api, what: string, fn: (options: ConfigurationOptions) => Promise<T>): Promise<T | null> {
  try {
    return await call(api, what, fn);
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const fileError = (err: unknown) => (err as NodeJS.ErrnoException).code ?? errorText(err);

/** The pullgate Deployment of the namespace and its pullgate container, if there is exactly one such Deployment. */
async function findDeployment(api: Api, namespace: string, read: string[]): Promise<V1Deployment | undefined> {
  try {
    const list = await call(api, `listing Deployments in ${namespace}`, (o) => api.apps.listNamespacedDeployment({ namespace, labelSelector: DEPLOYMENT_SELECTOR }, o));
    const [only, ...more] = list.items;
    if (!only) read.push(`no Deployment labelled ${DEPLOYMENT_SELECTOR} in namespace ${namespace}`);
    else if (more.length > 0) read.push(`${list.items.length} Deployments labelled ${DEPLOYMENT_SELECTOR} in namespace ${namespace}: using ${only.metadata?.name}`);
    else read.push(`Deployment ${namespace}/${only.metadata?.name}`);
    return only;
  } catch (err) {
    read.push(`Deployments in ${namespace} could not be listed: ${errorText(err)}`);
    return undefined;
  }
}

function pullgateContainer(deployment: V1Deployment | undefined) {
  const containers = deployment?.spec?.template.spec?.containers ?? [];
  return containers.find((c) => c.name === 'pullgate') ?? containers[0];
}

/** The file `path` of the Deployment's pullgate container, as the ConfigMap or Secret key it is mounted from. */
function deploymentFile(deployment: V1Deployment | undefined, path: string): MountedFile | undefined {
  const spec = deployment?.spec?.template.spec;
  const container = pullgateContainer(deployment);
  return spec && container ? mountedFile(spec, container, path) : undefined;
}

/** The text of a ConfigMap or Secret key; throws an error naming it. */
async function readMounted(api: Api, namespace: string, file: MountedFile): Promise<string> {
  const what = `${file.kind} ${namespace}/${file.name}`;
  if (file.kind === 'ConfigMap') {
    const cm = await call(api, `reading ${what}`, (o) => api.core.readNamespacedConfigMap({ name: file.name, namespace }, o));
    const text = cm.data?.[file.key];
    if (text === undefined) throw new Error(`${what} has no key ${file.key}`);
    return text;
  }
  const secret = await call(api, `reading ${what}`, (o) => api.core.readNamespacedSecret({ name: file.name, namespace }, o));
  const data = secret.data?.[file.key];
  if (data === undefined) throw new Error(`${what} has no key ${file.key}`);
  return Buffer.from(data, 'base64').toString('utf8');
}

const describe = (namespace: string, f: MountedFile) => `${f.kind} ${namespace}/${f.name}, key ${f.key}`;

async function gatherInstallation(api: Api, options: GatherOptions, deployment: V1Deployment | undefined, read: string[]): Promise<InstallationFacts> {
  const ns = options.ownNamespace;
  // The configuration: the file given, else what the Deployment mounts, else the chart's default names.
  let configSource: string;
  let configText: string | undefined;
  let configProblems: string[] = [];
  if (options.configFile !== undefined) {
    configSource = `file ${options.configFile}`;
    configText = await readFile(options.configFile, 'utf8').catch((err: unknown) => void configProblems.push(`cannot read it: ${fileError(err)}`));
  } else {
    const path = flagValue(pullgateContainer(deployment), '--config', '-c') ?? DEFAULT_CONFIG_FILE;
    const source = deploymentFile(deployment, path) ?? { kind: 'ConfigMap' as const, name: `${deployment?.metadata?.name ?? 'pullgate'}-config`, key: 'config.yaml' };
    configSource = describe(ns, source);
    configText = await readMounted(api, ns, source).catch((err: unknown) => void configProblems.push(errorText(err)));
  }
  read.push(`configuration: ${configSource}`);
  let raw: unknown;
  if (configText !== undefined) {
    try {
      raw = parseYaml(configText);
    } catch (err) {
      configProblems.push(`not valid YAML: ${errorText(err).split('\n')[0]}`);
    }
  }
  const checked = configText !== undefined && configProblems.length === 0 ? checkConfig(raw) : undefined;
  if (checked && !checked.ok) configProblems.push(...checked.problems);
  const config: PullgateConfig | undefined = checked?.ok ? checked.config : undefined;

  // The license: the file given; else the file the configuration names, from the Secret the
  // Deployment mounts there (the license in force, even when checking a configuration file), or as
  // a local file when checking one.
  let licenseSource: string;
  let licenseText: string | undefined;
  const licenseProblems: string[] = [];
  const mountedLicense = config && options.licenseFile === undefined ? deploymentFile(deployment, config.licenseFile) : undefined;
  const localLicense = options.licenseFile ?? (options.configFile !== undefined ? config?.licenseFile : undefined);
  if (mountedLicense) {
    licenseSource = describe(ns, mountedLicense);
    licenseText = await readMounted(api, ns, mountedLicense).catch((err: unknown) => void licenseProblems.push(errorText(err)));
  } else if (localLicense !== undefined) {
    licenseSource = `file ${localLicense}`;
    licenseText = await readFile(localLicense, 'utf8').catch((err: unknown) => void licenseProblems.push(`cannot read it: ${fileError(err)}`));
  } else if (config) {
    licenseSource = `file ${config.licenseFile}`;
    licenseProblems.push(`no Deployment mounts ${config.licenseFile} from a Secret: pass --license FILE`);
  } else {
    licenseSource = 'nowhere (the configuration, which names it, is not usable)';
    licenseProblems.push('not read: pass --license FILE');
  }
  read.push(`license: ${licenseSource}`);
  let license: License | undefined;
  if (licenseText !== undefined) {
    try {
      license = parseLicense(licenseText);
    } catch (err) {
      licenseProblems.push(...(err instanceof LicenseError ? err.problems : [errorText(err)]));
    }
  }
  let settings: EffectiveSettings | undefined;
  if (config && license) {
    try {
      settings = effectiveSettings(config, license);
    } catch (err) {
      configProblems = [...configProblems, ...(err instanceof ConfigError ? err.problems : [errorText(err)])];
    }
  }
  return {
    configSource,
    ...(config && configProblems.length === 0 ? { config } : {}),
    configProblems,
    licenseSource,
    ...(license ? { license } : {}),
    licenseProblems,
    ...(settings ? { settings } : {}),
  };
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
async function gatherServingCertificate(api: Api, live: V1MutatingWebhookConfiguration | null | undefined, deployment: V1Deployment | undefined, ns: string, read: string[]): Promise<ServingCertificateFacts> {
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

/** The message of a refusal's Status body; about the probe Pod, which holds nothing secret. */
function refusalMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (typeof body?.message === 'string') return body.message;
    } catch {
      // Not a Status: described below without the body.
    }
  }
  return apiCallError('creating the probe Pod', err).message;
}

/** A server-side dry run of a Pod with an image on the first private registry, in a namespace in scope. */
async function probe(api: Api, inst: InstallationFacts, served: string[], configured: string[], read: string[]): Promise<ProbeFacts> {
  if (!inst.config) return { outcome: { kind: 'skipped', reason: 'the configuration is not usable' } };
  const namespace = configured[0] ?? served[0];
  if (namespace === undefined) return { outcome: { kind: 'skipped', reason: 'no namespace in scope exists' } };
  const registry = inst.config.privateRegistries[0]!;
  const image = [registry.host, ...registry.pathSegments, 'pullgate-doctor-probe:1'].join('/');
  const podName = `pullgate-doctor-probe-${randomBytes(4).toString('hex')}`;
  read.push(`a server-side dry run of Pod ${namespace}/${podName} (nothing is stored)`);
  // Meets the restricted Pod Security Standard, so only the webhook decides what comes back.
  const body: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName, namespace, labels: { 'app.kubernetes.io/name': 'pullgate-doctor-probe' } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'probe', image, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  };
  let warningHeader: string | undefined;
  const captureWarnings: ConfigurationOptions['middleware'] = [
    {
      pre: (context) => new Observable(Promise.resolve(context)),
      post: (response: ResponseContext) => {
        warningHeader = response.headers['warning'];
        return new Observable(Promise.resolve(response));
      },
    },
  ];
  try {
    const pod = await api.budget.run((signal) => {
      const options = signalOptions(signal);
      return api.core.createNamespacedPod({ namespace, body, dryRun: 'All' }, { ...options, middleware: [...(options.middleware ?? []), ...(captureWarnings ?? [])] });
    }, PROBE_DEADLINE_MS);
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    return {
      namespace,
      podName,
      image,
      outcome: {
        kind: 'admitted',
        images: containers.map((c) => c.image ?? ''),
        imagePullSecrets: (pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? ''),
        annotations: pod.metadata?.annotations ?? {},
        warnings: warningTexts(warningHeader),
      },
    };
  } catch (err) {
    const forms = inst.license ? credentialForms('', inst.license.licenseID) : [];
    return { namespace, podName, image, outcome: { kind: 'refused', ...(statusOf(err) !== undefined ? { status: statusOf(err)! } : {}), message: redactCredential(refusalMessage(err), forms) } };
  }
}

/** Everything doctor judges, read from the cluster and the files given. */
export async function gatherFacts(options: GatherOptions): Promise<Gathered> {
  const kc = options.kubeConfig;
  const api: Api = {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    budget: new ApiCallBudget({ maxInFlight: 8, deadlineMs: DEADLINE_MS }),
  };
  const read: string[] = [];
  const ns = options.ownNamespace;
  const deployment = await findDeployment(api, ns, read);
  const installation = await gatherInstallation(api, options, deployment, read);
  const webhook = await gatherWebhook(api, options.webhookName ?? deployment?.metadata?.name ?? 'pullgate', read);
  const servingCertificate = await gatherServingCertificate(api, webhook.live, deployment, ns, read);
  const secrets = await gatherPullSecrets(api, installation, ns, read);
  const probeFacts = await probe(api, installation, secrets.served, secrets.configured, read);
  return {
    facts: { now: options.now ?? new Date(), ownNamespace: ns, installation, webhook, servingCertificate, pullSecrets: secrets.facts, probe: probeFacts },
    read,
  };
}
