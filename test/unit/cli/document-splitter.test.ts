// Cutting a YAML stream into documents as chunks arrive: where documents begin and end, how they
// are numbered, and that neither depends on where the chunks happen to be cut.
import fc from 'fast-check';
import { parseAllDocuments, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DocumentSplitter, type DocumentSource } from '../../../src/cli/document-splitter.ts';

function split(chunks: string[]): DocumentSource[] {
  const splitter = new DocumentSplitter();
  return [...chunks.flatMap((chunk) => splitter.push(chunk)), ...splitter.end()];
}

const texts = (docs: DocumentSource[]) => docs.map((d) => d.text);

describe('DocumentSplitter', () => {
  it('begins a document at each `---` line and numbers documents and their first lines', () => {
    const docs = split(['# rendered\na: 1\n---\nb: 2\n--- # c\nc: 3\n---\r\nd: 4\r\n']);
    expect(texts(docs)).toEqual(['# rendered\na: 1\n', '---\nb: 2\n', '--- # c\nc: 3\n', '---\r\nd: 4\r\n']);
    expect(docs.map((d) => [d.index, d.line, d.explicitStart])).toEqual([
      [1, 1, false],
      [2, 3, true],
      [3, 5, true],
      [4, 7, true],
    ]);
  });

  it('does not begin one at lines that only look like a marker', () => {
    const text = 'a: |\n  ---\n  text\n----\n---x: 1\n ---\n';
    expect(texts(split([text]))).toEqual([text]);
  });

  it('keeps comments and directives before the first `---` with the document they precede', () => {
    const docs = split(['# header\n%YAML 1.1\n---\na: 1\n']);
    expect(docs).toEqual([{ index: 1, line: 1, text: '# header\n%YAML 1.1\n---\na: 1\n', explicitStart: true, directives: true }]);
  });

  it('ends a document at `...`: what follows, directives included, belongs to the next', () => {
    const docs = split(['a: 1\n...\n%YAML 1.1\n---\nb: 2\n...\n# trailing comment\n']);
    expect(texts(docs)).toEqual(['a: 1\n...\n', '%YAML 1.1\n---\nb: 2\n...\n']);
    expect(docs.map((d) => [d.index, d.line, d.directives])).toEqual([
      [1, 1, false],
      [2, 3, true],
    ]);
  });

  it('counts empty documents between markers, as YAML does, and none for a stream of comments', () => {
    expect(split(['---\n---\na: 1\n']).map((d) => [d.index, d.text])).toEqual([
      [1, '---\n'],
      [2, '---\na: 1\n'],
    ]);
    expect(split(['# only a comment\n\n'])).toEqual([]);
    expect(split([''])).toEqual([]);
  });

  it('drops a byte order mark and reads a last line without a newline', () => {
    expect(texts(split(['\uFEFF# c\n---\na: 1\n---', '\nb: 2']))).toEqual(['# c\n---\na: 1\n', '---\nb: 2']);
  });

  it('finds a marker cut across chunks, down to one character per chunk', () => {
    const text = 'a: 1\n---\nb: 2\n...\nc: 3\n--- \nd: 4';
    const expected = split([text]);
    expect(texts(expected)).toEqual(['a: 1\n', '---\nb: 2\n...\n', 'c: 3\n', '--- \nd: 4']);
    expect(split([...text])).toEqual(expected);
  });

  it('agrees with the yaml package on the documents of a stream, however it is chunked', () => {
    const line = fc.constantFrom('---', '--- # c', '...', '# comment', '', '  ', 'a: 1', 'b: [1, 2]', 'k: |', '  ---', '  text', '- x', 'key:', '  nested: y', '--- z', '---\r', '...\r', '%YAML 1.2', '---\t# c');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 6 }), (lines, cuts) => {
        const text = lines.map((l) => `${l}\n`).join('');
        const whole = parseAllDocuments(text);
        if (!Array.isArray(whole) || whole.some((d) => d.errors.length > 0)) return;
        const docs = split([text]);
        expect(docs.map((d) => parseDocument(d.text).toJS())).toEqual(whole.map((d) => d.toJS()));
        expect(docs.map((d) => d.index)).toEqual(whole.map((_, i) => i + 1));
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i) => text.slice(from, [...at, text.length][i]));
        expect(split(chunks)).toEqual(docs);
      }),
      { numRuns: 2000 },
    );
  });
});
