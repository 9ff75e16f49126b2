import { readFile } from 'node:fs/promises';
import type { V1Deployment } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/config-error.ts';
import { effectiveSettings, type EffectiveSettings } from '../config/license-settings.ts';
import { checkConfig, type PullgateConfig } from '../config/schema.ts';
import { licenseProxyDomains } from '../k8s/webhook-match-conditions.ts';
import { LicenseError, parseLicense, type License } from '../license/license.ts';
import { call, errorText, fileError, type Api } from './doctor-api.ts';
import type { InstallationFacts } from './facts.ts';
import type { GatherOptions } from './gather.ts';
import { flagValue, mountedFile, type MountedFile } from './mounted-file.ts';

const DEFAULT_CONFIG_FILE = '/etc/pullgate/config/config.yaml';
const DEPLOYMENT_SELECTOR = 'app.kubernetes.io/name=pullgate';

/** The pullgate Deployment of the namespace and its pullgate container, if there is exactly one such Deployment. */
export async function findDeployment(api: Api, namespace: string, read: string[]): Promise<V1Deployment | undefined> {
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

export function pullgateContainer(deployment: V1Deployment | undefined) {
  const containers = deployment?.spec?.template.spec?.containers ?? [];
  return containers.find((c) => c.name === 'pullgate') ?? containers[0];
}

/** The file `path` of the Deployment's pullgate container, as the ConfigMap or Secret key it is mounted from. */
export function deploymentFile(deployment: V1Deployment | undefined, path: string): MountedFile | undefined {
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

export async function gatherInstallation(api: Api, options: GatherOptions, deployment: V1Deployment | undefined, read: string[]): Promise<InstallationFacts> {
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
  const proxyDomains = licenseText !== undefined ? licenseProxyDomains(licenseText) : undefined;
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
    ...(proxyDomains ? { licenseProxyDomains: proxyDomains } : {}),
  };
}
