// Files the configuration loader, the server and the CLI read: a License document and a config
// file, in a temporary directory each test removes again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A license ID that is easy to search for in output that must never contain it. */
export const LICENSE_ID = 'LicID-7fK2pQ9zX4wY1vB8nM3';
/** base64("LICENSE_ID:" + LICENSE_ID): the `auth` value of the pull secret. */
export const AUTH = Buffer.from(`LICENSE_ID:${LICENSE_ID}`).toString('base64');

export interface LicenseFields {
  licenseID?: string;
  appSlug?: string;
  customerName?: string;
  replicatedProxyDomain?: string;
  /** RFC 3339 (or anything, to test rejection); omitted = never expires. */
  expiresAt?: string;
  /** Default kots.io/v1beta1. */
  apiVersion?: string;
  /** `spec.channelID`: the license's own channel. */
  channelID?: unknown;
  /** `spec.channels`, as is (entries need not be well formed). */
  channels?: unknown;
}

export function tempDir(prefix = 'pullgate-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A KOTS License document (kots.io/v1beta1 unless `fields.apiVersion` says otherwise). */
export function licenseYaml(fields: LicenseFields = {}): string {
  const spec: Record<string, unknown> = {
    licenseID: fields.licenseID ?? LICENSE_ID,
    appSlug: fields.appSlug ?? 'my-app',
    customerName: fields.customerName ?? 'Acme Corp',
  };
  if (fields.replicatedProxyDomain !== undefined) spec.replicatedProxyDomain = fields.replicatedProxyDomain;
  if (fields.channelID !== undefined) spec.channelID = fields.channelID;
  if (fields.channels !== undefined) spec.channels = fields.channels;
  if (fields.expiresAt !== undefined) {
    spec.entitlements = { expires_at: { title: 'Expiration', valueType: 'String', value: fields.expiresAt } };
  }
  return stringify({ apiVersion: fields.apiVersion ?? 'kots.io/v1beta1', kind: 'License', metadata: { name: 'acme' }, spec });
}

export function writeLicense(dir: string, fields: LicenseFields = {}, name = 'license.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, licenseYaml(fields), { mode: 0o600 });
  return path;
}

/** The example configuration of CONTRACT.md, pointing at `licenseFile`; `overrides` replace top-level keys (undefined deletes). */
export function configObject(licenseFile: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    proxyDomain: 'proxy.example.com',
    registryDomain: 'registry.example.com',
    license: { file: licenseFile },
    privateRegistries: ['quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
    namespaces: { application: 'my-app', additional: ['monitoring'] },
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

/** Writes a config file: an object is written as YAML, a string as is. */
export function writeConfig(dir: string, config: Record<string, unknown> | string, name = 'pullgate.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

/** A license and the example config in `dir`; returns both paths. */
export function writeSetup(dir: string, license: LicenseFields = {}, overrides: Record<string, unknown> = {}): { licenseFile: string; configFile: string } {
  const licenseFile = writeLicense(dir, license);
  return { licenseFile, configFile: writeConfig(dir, configObject(licenseFile, overrides)) };
}
