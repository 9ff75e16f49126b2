import { isExpired } from '../../license/license.ts';
import { result, type CheckResult } from '../check.ts';
import type { InstallationFacts } from '../facts.ts';

/** Within this long of its expiry, a license is reported as a warning. */
export const LICENSE_EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 24 * 3600_000;

/** The license parses and has not expired. Never names the license ID. */
export function checkLicense(facts: InstallationFacts, now: Date): CheckResult {
  const { license, licenseSource } = facts;
  if (!license) {
    return result('license', 'fail', `the license from ${licenseSource} is not valid`, facts.licenseProblems, 'put the License document from the vendor in place (Secret or file); pullgate cannot start without one');
  }
  const customer = license.customerName || license.appSlug;
  if (!license.expiresAt) return result('license', 'ok', `license for ${customer} (app ${license.appSlug}) from ${licenseSource}, no expiry`);
  const at = license.expiresAt.toISOString();
  const renew = `ask the vendor for a renewed license and replace the one in ${licenseSource}; pullgate picks it up without a restart`;
  if (isExpired(license, now)) {
    return result('license', 'fail', `license for ${customer} expired at ${at}`, ['the proxy refuses pulls with an expired license: rewritten Pods cannot pull their images'], renew);
  }
  const daysLeft = Math.floor((license.expiresAt.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < LICENSE_EXPIRY_WARNING_DAYS) return result('license', 'warn', `license for ${customer} expires at ${at}, in ${daysLeft} day(s)`, [], renew);
  return result('license', 'ok', `license for ${customer} (app ${license.appSlug}) from ${licenseSource}, valid until ${at}`);
}
