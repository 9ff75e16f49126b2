// Reading the configuration file and the license it names, with every problem of both listed at once.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { LicenseError, parseLicense, type License } from '../license/license.ts';
import { getIn } from '../util/is-record.ts';
import { ConfigError } from './config-error.ts';
import { effectiveSettings, type EffectiveSettings } from './license-settings.ts';
import { checkConfig, type PullgateConfig } from './schema.ts';

export interface LoadedConfig {
  config: PullgateConfig;
  license: License;
  settings: EffectiveSettings;
}

async function readLicense(path: string): Promise<{ license?: License; problems: string[] }> {
  try {
    return { license: parseLicense(await readFile(path, 'utf8')), problems: [] };
  } catch (err) {
    if (err instanceof LicenseError) return { problems: err.problems.map((p) => `license.file "${path}": ${p}`) };
    return { problems: [`license.file "${path}": cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`] };
  }
}

/** Reads and validates the configuration file and the license it names; throws ConfigError listing every problem. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  // The license is read even when the rest of the file is wrong, so its problems are listed too.
  const licenseFile = getIn(raw, ['license', 'file']);
  const read = typeof licenseFile === 'string' && licenseFile.trim() !== '' ? await readLicense(licenseFile.trim()) : { problems: [] };
  const checked = checkConfig(raw, read.license);
  const problems = [...read.problems, ...checked.problems];
  if (!checked.ok || !read.license || problems.length > 0) throw new ConfigError(path, problems);
  return Object.freeze({ config: checked.config, license: read.license, settings: effectiveSettings(checked.config, read.license) });
}
