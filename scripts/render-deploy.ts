// Renders the manifests of deploy/ that follow from the configuration (in its ConfigMap manifest):
// the MutatingWebhookConfiguration, pullgate's RBAC and its write guard, for pullgate running as
// ServiceAccount pullgate/pullgate behind the Service pullgate/pullgate with its CA injected by
// cert-manager.
//   node scripts/render-deploy.ts [deploy/config.yaml]   # rewrites webhook.yaml, rbac.yaml, write-guard.yaml next to it
// test/unit/deploy fails when those files differ from this output.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { checkConfig, effectiveSettings, type PullgateConfig } from '../src/config.ts';
import { DEFAULT_LEASE_NAME, rbacManifests, writeGuardManifests, type AccessPolicySettings } from '../src/k8s/access-policy.ts';
import { namespaceScope } from '../src/k8s/namespace-scope.ts';
import { webhookConfiguration } from '../src/k8s/webhook-configuration.ts';

export const DEPLOY_NAMESPACE = 'pullgate';
export const DEPLOY_SERVICE_ACCOUNT = 'pullgate';

/** The pull secret's name as pullgate will resolve it; without a license only an explicit appSlug can default it. */
function pullSecretName(config: PullgateConfig): string {
  if (config.pullSecretName === undefined && config.appSlug === undefined) {
    throw new Error('set pullSecret.name (or appSlug): the RBAC and the write guard name the pull secret, whose default comes from the license otherwise');
  }
  return effectiveSettings(config, { licenseID: '', appSlug: config.appSlug ?? '', customerName: '' }).pullSecretName;
}

export function deployAccessSettings(config: PullgateConfig): AccessPolicySettings {
  return {
    namespace: DEPLOY_NAMESPACE,
    serviceAccount: DEPLOY_SERVICE_ACCOUNT,
    pullSecretName: pullSecretName(config),
    leaseName: DEFAULT_LEASE_NAME,
    ...(config.credentials ? { dockerConfigSecret: config.credentials.dockerConfigSecret } : {}),
  };
}

export function deployWebhookConfiguration(config: PullgateConfig) {
  const configuration = webhookConfiguration(namespaceScope(config.namespaces, DEPLOY_NAMESPACE), {
    clientConfig: { service: { namespace: DEPLOY_NAMESPACE, name: 'pullgate', path: '/mutate', port: 443 } },
  });
  return {
    ...configuration,
    metadata: { ...configuration.metadata, annotations: { 'cert-manager.io/inject-ca-from': `${DEPLOY_NAMESPACE}/pullgate-tls` } },
  };
}

const HEADER = '# Generated from config.yaml by scripts/render-deploy.ts; edit the configuration and render again.\n';

function yamlDocuments(comment: string, docs: readonly object[]): string {
  return HEADER + comment + docs.map((d) => stringify(d, { aliasDuplicateObjects: false, lineWidth: 0 })).join('---\n');
}

/** File name (in deploy/) → content. */
export function renderDeploy(config: PullgateConfig): Record<string, string> {
  const access = deployAccessSettings(config);
  return {
    'webhook.yaml': yamlDocuments('', [deployWebhookConfiguration(config)]),
    'rbac.yaml': yamlDocuments(
      '# pullgate\'s identity and the least it needs: namespaces, the pull secret by name only (and, when\n' +
        '# configured, the credential source in its own namespace), and its leader Lease. It never lists,\n' +
        '# watches or reads any other Secret.\n',
      rbacManifests(access),
    ),
    'write-guard.yaml': yamlDocuments(
      '# Enforced by the API server: pullgate\'s ServiceAccount may write only its own pull secret (by name,\n' +
        '# type and managed-by label), never in kube-system or its own namespace. RBAC cannot say this.\n',
      writeGuardManifests(access),
    ),
  };
}

/** The configuration inside a ConfigMap manifest such as deploy/config.yaml; throws listing every problem. */
export function readDeployConfig(file: string): PullgateConfig {
  const configMap = parse(readFileSync(file, 'utf8')) as { data?: { 'config.yaml'?: string } };
  const text = configMap?.data?.['config.yaml'];
  if (typeof text !== 'string') throw new Error(`${file}: not a ConfigMap with data."config.yaml"`);
  const checked = checkConfig(parse(text));
  if (!checked.ok) throw new Error(`${file}:\n${checked.problems.map((p) => `  - ${p}`).join('\n')}`);
  return checked.config;
}

if (import.meta.main) {
  const file = process.argv[2] ?? 'deploy/config.yaml';
  try {
    const rendered = renderDeploy(readDeployConfig(file));
    for (const [name, content] of Object.entries(rendered)) {
      writeFileSync(join(dirname(file), name), content);
      process.stdout.write(`wrote ${join(dirname(file), name)}\n`);
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
