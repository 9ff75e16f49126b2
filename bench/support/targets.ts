// The targets `npm run bench` measures, in the order it prints them; BENCHMARKS.md lists the same.
export const TARGETS = [
  { name: 'throughput', goal: '>= 0.70 of bare node:https, > controller-runtime' },
  { name: 'p99 at 1,000 req/s', goal: '<= 2x bare p99, max stated' },
  { name: 'RSS after 1M admissions', goal: '<= 150 MiB, growth < 10 % from 100k' },
  { name: 'API server unreachable or hung', goal: 'throughput >= 0.80 of healthy' },
  { name: 'e2e Pod creation', goal: 'wall-time ratio <= 1.15, no extra API calls' },
] as const;

export type TargetName = (typeof TARGETS)[number]['name'];
