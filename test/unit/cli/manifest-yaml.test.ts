// One document read as kubectl reads it (go-yaml, YAML 1.1), and its errors placed in the stream.
import { describe, expect, it } from 'vitest';
import type { DocumentSource } from '../../../src/cli/document-splitter.ts';
import { parseManifest } from '../../../src/cli/manifest-yaml.ts';
import { PreviewInputError } from '../../../src/cli/preview-input-error.ts';

const source = (text: string, index = 1, line = 1): DocumentSource => ({ index, line, text, explicitStart: false, directives: false });

function refusal(text: string, index = 1, line = 1): string {
  try {
    parseManifest('in.yaml', source(text, index, line));
  } catch (err) {
    expect(err).toBeInstanceOf(PreviewInputError);
    return (err as Error).message;
  }
  throw new Error('expected a PreviewInputError');
}

describe('parseManifest', () => {
  it('reads YAML 1.1 scalars as go-yaml does', () => {
    const { doc } = parseManifest('in.yaml', source('a: yes\nb: on\nc: 0644\nd: 12:30\ne: 2024-01-01\nf: "on"\ng: ~\ny: 1\n'));
    expect(doc.toJS()).toEqual({ a: true, b: true, c: 0o644, d: '12:30', e: '2024-01-01', f: 'on', g: null, true: 1 });
  });

  it('applies merge keys', () => {
    const { doc } = parseManifest('in.yaml', source('base: &b {name: a, image: x}\nc: {<<: *b, name: b}\n'));
    expect(doc.toJS()).toEqual({ base: { name: 'a', image: 'x' }, c: { name: 'b', image: 'x' } });
  });

  it('places a syntax error at its line in the stream, not in the document', () => {
    expect(refusal('kind: Pod\nmetadata:\n  labels: {a: b\nspec: {}\n', 3, 10)).toMatch(/^in\.yaml: document 3 \(line 1[23], column \d+\): /);
  });

  it('refuses a repeated key, naming the first one in document order', () => {
    expect(refusal('a: 1\nb:\n  c: 1\n  d: [1, {e: 1, e: 2}]\n  c: 2\n', 2, 5)).toBe('in.yaml: document 2 (line 8, column 17): Map keys must be unique');
    expect(refusal('yes: 1\ntrue: 2\n')).toBe('in.yaml: document 1 (line 2, column 1): Map keys must be unique');
  });

  it('allows several merge keys in one mapping', () => {
    const { doc } = parseManifest('in.yaml', source('a: &a {p: 1}\nb: &b {q: 2}\nc:\n  <<: *a\n  <<: *b\n'));
    expect(doc.toJS().c).toEqual({ p: 1, q: 2 });
  });

  it('reads a mapping of 50,000 keys', { timeout: 30_000 }, () => {
    // The yaml package's own duplicate check compares each key with all before it: 17 s for
    // 20,000 keys, minutes for these.
    const n = 50_000;
    const { doc } = parseManifest('in.yaml', source(Array.from({ length: n }, (_, i) => `key${i}: ${i}`).join('\n')));
    expect(Object.keys(doc.toJS() as object)).toHaveLength(n);
  });
});
