import { parse as parseYaml } from 'yaml';
import { getIn, isRecord } from '../util/is-record.ts';

/** The parts of a KOTS-style License (`kots.io/v1beta1` or `kots.io/v1beta2`) that pullgate uses. */
export interface License {
  licenseID: string;
  appSlug: string;
  customerName: string;
  /** Default for `proxyDomain` when the configuration does not set one: the license channel's, else the license's. */
  proxyDomain?: string;
  /** Undefined: the license never expires. */
  expiresAt?: Date;
}

export class LicenseError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid license: ${problems.join('; ')}`);
    this.name = 'LicenseError';
    this.problems = problems;
  }
}

// Both versions carry the fields read here under the same names.
const API_VERSIONS = ['kots.io/v1beta1', 'kots.io/v1beta2'];

function requiredString(spec: unknown, key: string, problems: string[]): string {
  const value = getIn(spec, [key]);
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  problems.push(`spec.${key} is required`);
  return '';
}

function nonBlank(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * The proxy domain of the license's own channel (the `spec.channels` entry with the license's
 * `channelID`, else the default one), else the license's top-level one. A custom domain can be set
 * per channel, so the channel's wins. These fields are optional: a malformed one counts as absent.
 */
function proxyDomainOf(spec: unknown): string | undefined {
  const listed = getIn(spec, ['channels']);
  const channels = Array.isArray(listed) ? listed.filter(isRecord) : [];
  const channelID = nonBlank(getIn(spec, ['channelID']));
  const own = (channelID !== undefined ? channels.find((c) => c.channelID === channelID) : undefined) ?? channels.find((c) => c.isDefault === true);
  return nonBlank(own?.replicatedProxyDomain) ?? nonBlank(getIn(spec, ['replicatedProxyDomain']));
}

// RFC 3339 with a time zone; Date.parse alone would also take local-time forms.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// Date.parse rolls impossible dates over (2030-02-30 becomes March 2, 24:00 the next day); RFC 3339
// and Go's time.Parse reject them.
function inCalendar(match: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59;
}

/** Parses a License document. Problems never quote the license ID. */
export function parseLicense(text: string): License {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new LicenseError([`not valid YAML (${(err as Error).message.split('\n')[0]})`]);
  }
  const problems: string[] = [];
  const apiVersion = getIn(doc, ['apiVersion']);
  if (typeof apiVersion !== 'string' || !API_VERSIONS.includes(apiVersion) || getIn(doc, ['kind']) !== 'License') {
    problems.push(`expected apiVersion ${API_VERSIONS.join(' or ')} and kind License`);
  }
  const spec = getIn(doc, ['spec']);
  const licenseID = requiredString(spec, 'licenseID', problems);
  const appSlug = requiredString(spec, 'appSlug', problems);
  const customer = getIn(spec, ['customerName']);
  const customerName = typeof customer === 'string' ? customer : '';
  const proxyDomain = proxyDomainOf(spec);
  const expiresValue = getIn(spec, ['entitlements', 'expires_at', 'value']);
  let expiresAt: Date | undefined;
  if (typeof expiresValue === 'string' && expiresValue.trim() !== '') {
    const text = expiresValue.trim();
    const parsed = Date.parse(text);
    const match = RFC3339.exec(text);
    if (!match || !inCalendar(match) || Number.isNaN(parsed)) problems.push(`spec.entitlements.expires_at.value "${text}" is not an RFC 3339 time`);
    else expiresAt = new Date(parsed);
  } else if (expiresValue !== undefined && expiresValue !== null && expiresValue !== '') {
    problems.push('spec.entitlements.expires_at.value must be a string');
  }
  if (problems.length > 0) throw new LicenseError(problems);
  return {
    licenseID,
    appSlug,
    customerName,
    ...(proxyDomain !== undefined ? { proxyDomain } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  };
}

export function isExpired(license: License, now: Date): boolean {
  return license.expiresAt !== undefined && license.expiresAt.getTime() <= now.getTime();
}

/** The warning every admission response carries while the license is expired. */
export function expiryWarning(license: License, now: Date): string | undefined {
  if (!isExpired(license, now)) return undefined;
  return `pullgate: the license for ${license.customerName || license.appSlug} expired at ${license.expiresAt!.toISOString()}; the proxy will refuse pulls`;
}
