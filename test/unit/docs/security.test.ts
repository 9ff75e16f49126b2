// SECURITY.md names the test behind every claim: those tests must exist, with those titles.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const text = readFileSync(`${ROOT}SECURITY.md`, 'utf8');

describe('SECURITY.md', () => {
  const paths = [...new Set([...text.matchAll(/`(test\/[^`]+)`/g)].map((m) => m[1]!))];

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
