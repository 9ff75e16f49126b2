// The pull secrets pullgate keeps, as the API server holds them.
import type { ClusterClient } from '../../cluster/client.ts';
import { SECRET_NAME } from './scenario.ts';

interface SecretJson {
  metadata: { namespace: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
  type: string;
  data?: Record<string, string>;
}

/** The license ID a pull secret carries (every registry's auth must agree), or undefined if it has none. */
export function licenseIn(secret: SecretJson | undefined): string | undefined {
  const text = secret?.data?.['.dockerconfigjson'];
  if (!text) return undefined;
  const config = JSON.parse(Buffer.from(text, 'base64').toString()) as { auths?: Record<string, { auth?: string }> };
  const ids = new Set(Object.values(config.auths ?? {}).map((a) => Buffer.from(a.auth ?? '', 'base64').toString()));
  if (ids.size !== 1) return undefined;
  const [decoded] = [...ids] as [string];
  return decoded.startsWith('LICENSE_ID:') ? decoded.slice('LICENSE_ID:'.length) : undefined;
}

/** Every secret named like the pull secret, by namespace, in one request. */
export async function pullSecrets(client: ClusterClient): Promise<Map<string, SecretJson>> {
  const out = await client.kubectl(['get', 'secrets', '-A', '--field-selector', `metadata.name=${SECRET_NAME}`, '-o', 'json']);
  const items = (JSON.parse(out.stdout) as { items: SecretJson[] }).items;
  return new Map(items.map((s) => [s.metadata.namespace, s]));
}

/** The pull secret of one namespace, or undefined. */
export async function pullSecret(client: ClusterClient, namespace: string): Promise<SecretJson | undefined> {
  const out = await client.kubectl(['get', 'secret', SECRET_NAME, '-n', namespace, '-o', 'json', '--ignore-not-found']);
  return out.stdout.trim() === '' ? undefined : (JSON.parse(out.stdout) as SecretJson);
}

/** base64("LICENSE_ID:" + id), the auth value a pull secret holds for a license ID. */
export function authFor(licenseID: string): string {
  return Buffer.from(`LICENSE_ID:${licenseID}`).toString('base64');
}
