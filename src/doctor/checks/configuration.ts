import { result, type CheckResult } from '../check.ts';
import type { InstallationFacts } from '../facts.ts';

/** The configuration parses and, with the license, gives valid settings. */
export function checkConfiguration(facts: InstallationFacts): CheckResult {
  if (facts.configProblems.length === 0 && facts.config) return result('configuration', 'ok', `configuration read from ${facts.configSource}`);
  return result(
    'configuration',
    'fail',
    `the configuration from ${facts.configSource} is not usable`,
    facts.configProblems,
    'fix the configuration (helm upgrade with corrected values, or edit the file); pullgate refuses to start with it',
  );
}
