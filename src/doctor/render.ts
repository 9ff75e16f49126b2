import { overallStatus, type CheckResult, type CheckStatus } from './check.ts';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** The report for a person: one line per check, then its particulars and what to do. */
export function renderText(results: readonly CheckResult[], read: readonly string[]): string {
  const lines: string[] = [];
  if (read.length > 0) lines.push('Read:', ...read.map((r) => `  ${r}`), '');
  for (const r of results) {
    lines.push(`[${MARK[r.status]}] ${r.id}: ${r.summary}`);
    for (const detail of r.details) lines.push(`         - ${detail}`);
    if (r.fix !== undefined) lines.push(`         what to do: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed > 0 ? `${failed} check(s) failed, ${warned} warning(s).` : warned > 0 ? `No check failed; ${warned} warning(s).` : 'Everything checked is as it should be.');
  return `${lines.join('\n')}\n`;
}

/** The report as JSON: `{ status, read, checks: [{ id, status, summary, details, fix? }] }`. */
export function renderJson(results: readonly CheckResult[], read: readonly string[]): string {
  return `${JSON.stringify({ status: overallStatus(results), read, checks: results }, null, 2)}\n`;
}
