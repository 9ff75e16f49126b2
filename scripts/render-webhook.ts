// Prints the MutatingWebhookConfiguration for a pullgate configuration file, for a webhook served
// by the Service pullgate/pullgate: `node scripts/render-webhook.ts deploy/config.yaml`.
// deploy/webhook.yaml is this script's output for the example configuration (a test keeps them equal).
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { validateConfig } from '../src/config.ts';
import { webhookConfigurationForService } from '../test/support/deploy-manifests.ts';

const file = process.argv[2] ?? 'deploy/config.yaml';
const configMap = parse(readFileSync(file, 'utf8')) as { data: { 'config.yaml': string } };
const config = validateConfig(parse(configMap.data['config.yaml']), undefined);
process.stdout.write(stringify(webhookConfigurationForService(config.namespaces), { aliasDuplicateObjects: false }));
