// cel-match (main.go): a webhook's matchConditions evaluated by the API server's own CEL packages,
// built once and cached (build.sh). Without Go and no cached binary the tests that need it skip
// with the reason, except under CI=true, where a skip would hide what they prove.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1MatchCondition } from '@kubernetes/client-node';
import { isCI } from '../cluster/ensure-binaries.ts';
import { run } from '../support/run.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('./build.sh', import.meta.url));

export interface MatchResult {
  matches: boolean;
  /** The API server's error, when evaluation failed (then the failure policy decided `matches`). */
  error?: string;
  /** Cost units spent, of the 2,500,000 a webhook's conditions may spend per object. */
  cost: number;
}

function locate(): { binary: string } | { unavailable: string } {
  const cached = spawnSync('bash', [BUILD_SCRIPT, '--cached-only'], { encoding: 'utf8' });
  if (cached.status === 0) return { binary: cached.stdout.trim().split('\n').at(-1)! };
  const built = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (built.status === 0) return { binary: built.stdout.trim().split('\n').at(-1)! };
  return { unavailable: `cel-match cannot be built (${BUILD_SCRIPT} exited ${built.status}): it needs Go >= 1.26 and the k8s.io modules` };
}

const found = locate();
/** Why cel-match cannot be had here; undefined when it can. */
export const celMatchUnavailable = 'unavailable' in found ? found.unavailable : undefined;
if (celMatchUnavailable !== undefined && isCI()) throw new Error(`CI=true: refusing to skip: ${celMatchUnavailable}`);

/**
 * Evaluates `conditions` for each Pod (as a CREATE) as the API server would with `failurePolicy`;
 * with `compatibilityVersion` (say "1.30"), in the CEL environment of that Kubernetes version.
 */
export async function evaluateMatchConditions(conditions: V1MatchCondition[], pods: readonly object[], failurePolicy: 'Fail' | 'Ignore' = 'Fail', compatibilityVersion?: string): Promise<MatchResult[]> {
  if (!('binary' in found)) throw new Error(found.unavailable);
  const file = join(mkdtempSync(join(tmpdir(), 'cel-match-')), 'conditions.json');
  writeFileSync(file, JSON.stringify(conditions));
  const input = pods.map((p) => JSON.stringify(p)).join('\n') + '\n';
  const env = compatibilityVersion === undefined ? process.env : { ...process.env, CEL_COMPATIBILITY_VERSION: compatibilityVersion };
  const { stdout } = await run(found.binary, [file, failurePolicy], { input, env, check: true, timeoutMs: 300_000 });
  const results = stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as MatchResult);
  if (results.length !== pods.length) throw new Error(`cel-match answered ${results.length} of ${pods.length} Pods`);
  return results;
}
