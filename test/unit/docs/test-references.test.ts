// SECURITY.md names the test behind every claim, CONTRACT.md the tests behind each rule: those
// tests must exist, with the titles quoted.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (doc: string) => readFileSync(`${ROOT}${doc}`, 'utf8');
const testPaths = (text: string) => [...new Set([...text.matchAll(/`(test\/[^`]+)`/g)].map((m) => m[1]!))];

describe('CONTRACT.md', () => {
  const paths = testPaths(read('CONTRACT.md'));

  it('names tests for its rules', () => {
    expect(paths.length).toBeGreaterThan(10);
  });

  it.each(paths)('names %s, which exists', (path) => {
    expect(existsSync(`${ROOT}${path}`)).toBe(true);
  });
});

describe('SECURITY.md', () => {
  const text = read('SECURITY.md');
  const paths = testPaths(text);

  it('names tests for its claims', () => {
    expect(paths.length).toBeGreaterThan(10);
  });

  it.each(paths)('names %s, which exists', (path) => {
    expect(existsSync(`${ROOT}${path}`)).toBe(true);
    if (path.endsWith('/')) expect(statSync(`${ROOT}${path}`).isDirectory()).toBe(true);
  });

  it('quotes test titles that exist in the file it names', () => {
    // `file` ("title starts with…") pairs.
    let checked = 0;
    for (const match of text.matchAll(/`(test\/[^`]+\.test\.ts)` \(("[^"]+"(?:, "[^"]+")*)\)/g)) {
      const source = readFileSync(`${ROOT}${match[1]}`, 'utf8');
      for (const quoted of match[2]!.matchAll(/"([^"]+?)(?:…)?"/g)) {
        expect(source, `${match[1]} has a test "${quoted[1]}"`).toContain(quoted[1]!.replace(/…$/, ''));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});
