/**
 * What `pullgate doctor` reports: one result per check, each saying what it found and, when
 * something is wrong, what to do about it. The JSON output is this shape (stable: fields are only
 * ever added).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** Every check, in the order reported: what is installed, then what it does. */
export const CHECK_IDS = ['configuration', 'license', 'webhook-configuration', 'install-guard', 'ca-bundle', 'serving-certificate', 'pull-secrets', 'probe'] as const;

export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckResult {
  readonly id: CheckId;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly summary: string;
  /** The particulars (one line each): which webhook, which namespaces, which field. */
  readonly details: readonly string[];
  /** What to do; absent when there is nothing to do. */
  readonly fix?: string;
}

export function result(id: CheckId, status: CheckStatus, summary: string, details: readonly string[] = [], fix?: string): CheckResult {
  return { id, status, summary, details, ...(fix !== undefined && status !== 'ok' ? { fix } : {}) };
}

/** Exit codes of `pullgate doctor` (README, "When a Pod was not rewritten"). */
export const DOCTOR_EXIT = {
  /** No check failed (warnings may be listed). */
  OK: 0,
  /** At least one check failed, or the command line was wrong. */
  FAULT: 1,
  /** The cluster could not be examined at all (no usable kubeconfig). */
  CANNOT_RUN: 2,
} as const;

const RANK: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };

/** The worst status of `results` (ok for none). */
export function overallStatus(results: readonly CheckResult[]): CheckStatus {
  return results.reduce<CheckStatus>((worst, r) => (RANK[r.status] > RANK[worst] ? r.status : worst), 'ok');
}

export function exitCodeOf(results: readonly CheckResult[]): number {
  return overallStatus(results) === 'fail' ? DOCTOR_EXIT.FAULT : DOCTOR_EXIT.OK;
}
