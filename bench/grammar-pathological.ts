// How long the reference grammar takes to reject long, adversarial image strings (Pod images are
// arbitrary user input and the regexes run on a backtracking engine). `npm run bench:grammar`.
import { REFERENCE } from '../src/image/grammar.ts';

const inputs: Array<[string, string]> = [
  ['100k letters then "!"', 'a'.repeat(100_000) + '!'],
  ['50k "a-" then "!"', 'a-'.repeat(50_000) + '!'],
  ['50k "a." then "/"', 'a.'.repeat(50_000) + '/'],
  ['20k "A.1aa"', 'A.1aa'.repeat(20_000)],
  ['100k-hex digest then "g"', `x/y@sha256:${'f'.repeat(100_000)}g`],
];
const typical = 'quay.io/acme/web:1.4.0@sha256:' + 'a'.repeat(64);
const rounds = 20;

const time = (input: string): number => {
  const start = performance.now();
  for (let i = 0; i < rounds; i++) REFERENCE.test(input);
  return (performance.now() - start) / rounds;
};
const base = time(typical);
console.log(`typical reference (${typical.length} chars): ${(base * 1000).toFixed(1)} us`);
for (const [name, input] of inputs) {
  const ms = time(input);
  console.log(`${name.padEnd(28)} ${String(input.length).padStart(7)} chars  ${ms.toFixed(2).padStart(8)} ms  ${(ms / input.length * 1e6).toFixed(1)} ns/char`);
}
