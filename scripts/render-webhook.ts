// Prints the MutatingWebhookConfiguration for the configuration in a ConfigMap manifest, for a
// webhook served by the Service pullgate/pullgate with its CA injected by cert-manager:
//   node scripts/render-webhook.ts deploy/config.yaml > deploy/webhook.yaml
// test/unit/deploy keeps deploy/webhook.yaml equal to this output.
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { validateConfig, type NamespaceConfig } from '../src/config.ts';
import { webhookConfiguration } from '../src/k8s/webhook-configuration.ts';

export function deployWebhookConfiguration(namespaces: NamespaceConfig) {
  const configuration = webhookConfiguration(namespaces, {
    ownNamespace: 'pullgate',
    clientConfig: { service: { namespace: 'pullgate', name: 'pullgate', path: '/mutate', port: 443 } },
  });
  return {
    ...configuration,
    metadata: { ...configuration.metadata, annotations: { 'cert-manager.io/inject-ca-from': 'pullgate/pullgate-tls' } },
  };
}

if (import.meta.main) {
  const file = process.argv[2] ?? 'deploy/config.yaml';
  const configMap = parse(readFileSync(file, 'utf8')) as { data: { 'config.yaml': string } };
  const problems: string[] = [];
  const config = validateConfig(parse(configMap.data['config.yaml']), undefined, problems);
  if (problems.length > 0) {
    process.stderr.write(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(stringify(deployWebhookConfiguration(config.namespaces), { aliasDuplicateObjects: false }));
}
