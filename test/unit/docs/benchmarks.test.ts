// BENCHMARKS.md holds a run of `npm run bench` as printed: its Targets block lists exactly the
// targets the script measures, in the script's order.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../../../bench/support/targets.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const text = readFileSync(`${ROOT}BENCHMARKS.md`, 'utf8');

describe('BENCHMARKS.md', () => {
  it("lists the script's targets, in order, each with its outcome", () => {
    const block = text.slice(text.indexOf('\nTargets\n'));
    const listed = [...block.matchAll(/^ {3}(met|NOT met|skipped) +(.+?) {2,}/gm)].map((m) => m[2]!.trim());
    expect(listed).toEqual(TARGETS.map((t) => t.name));
  });
});
