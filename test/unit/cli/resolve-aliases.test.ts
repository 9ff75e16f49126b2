// Resolving aliases before a document is converted: the same values as the yaml package's own
// resolution, without its cost, and a refusal, before expanding anything, of documents whose
// aliases would grow them too far; then making the document a tree again, to be edited and written.
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { AliasError, resolveAliases, unshare } from '../../../src/cli/resolve-aliases.ts';

const YAML_1_1 = { version: '1.1' } as const;

function resolved(text: string, max = 1000): { value: unknown; use: ReturnType<typeof resolveAliases> } {
  const doc = parseDocument(text, YAML_1_1);
  expect(doc.errors).toEqual([]);
  const use = resolveAliases(doc, max);
  // No alias is left: the yaml package is not allowed to resolve a single one.
  return { value: doc.toJS({ maxAliasCount: 0 }), use };
}

function refusal(text: string, max = 1000): AliasError {
  const doc = parseDocument(text, YAML_1_1);
  try {
    resolveAliases(doc, max);
  } catch (err) {
    expect(err).toBeInstanceOf(AliasError);
    return err as AliasError;
  }
  throw new Error('expected an AliasError');
}

describe('resolveAliases', () => {
  it.each([
    ['a sequence used twice', 'init: &c [{name: a, image: x}]\nmain: *c\n'],
    ['a scalar, a key and a nested alias', 'a: &v 1\nb: {k: *v}\nc: &m {x: *v}\nd: [*m, *m]\n*v : key\n'],
    ['merge keys, one map and a list of them', 'base: &b {name: web, image: x}\nextra: &e {port: 80}\none: {<<: *b, name: override}\nboth: {<<: [*b, *e], port: 8080}\n'],
    ['an anchor defined again', 'a: &x 1\nb: *x\nc: &x 2\nd: *x\n'],
  ])('gives the values the yaml package gives: %s', (_name, text) => {
    expect(resolved(text).value).toEqual(parseDocument(text, YAML_1_1).toJS());
  });

  it('converts aliases to copies, not shared objects, so a change to one leaves the other', () => {
    const { value } = resolved('init: &c [{name: a}]\nmain: *c\n') as { value: { init: Array<{ name: string }>; main: Array<{ name: string }> } };
    value.main[0]!.name = 'changed';
    expect(value.init[0]!.name).toBe('a');
  });

  it('counts the aliases it resolved and the merge keys', () => {
    expect(resolved('a: &b {x: 1}\nc: {<<: *b}\nd: *b\n').use).toEqual({ aliases: 2, mergeKeys: 1 });
    expect(resolved('a: {<<: {x: 1}}\n').use).toEqual({ aliases: 0, mergeKeys: 1 });
    expect(resolved('a: &x 1\n').use).toEqual({ aliases: 0, mergeKeys: 0 });
  });

  it('refuses an alias with no anchor before it, and one inside the node it names, saying where', () => {
    const missing = refusal('a: 1\nb: *nope\n');
    expect(missing.message).toBe('alias *nope has no anchor before it');
    expect(missing.offset).toBe('a: 1\nb: '.length);
    const early = refusal('a: *later\nb: &later 1\n');
    expect(early.message).toContain('*later has no anchor before it');
    const inside = refusal('a: &a [1, *a]\n');
    expect(inside.message).toBe('alias *a is inside the node it names');
    expect(inside.offset).toBe('a: &a [1, '.length);
  });

  it('refuses a billion laughs before expanding it', () => {
    const levels = ['a: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 30; i++) levels.push(`${String.fromCharCode(97 + (i % 26))}${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const error = refusal(`${levels.join('\n')}\n`, 100_000);
    expect(error.message).toBe('its aliases would expand it by more than 100000 nodes (an alias bomb?); not resolved');
  });

  it('takes up to the bound and not one node more', () => {
    // Each alias of the 4-node anchor adds 4 nodes.
    const text = (n: number) => `base: &b [1, 2, 3]\nuses: [${Array(n).fill('*b').join(', ')}]\n`;
    expect(resolved(text(25), 100).use.aliases).toBe(25);
    expect(refusal(text(26), 100).message).toContain('more than 100 nodes');
  });

  it('resolves many anchors and aliases in one walk', { timeout: 60_000 }, () => {
    // The yaml package's own resolution rescans the document for each alias: 12 s for 16,000
    // here, two minutes for these 50,000; one walk takes seconds.
    const n = 50_000;
    const text = `list:\n${Array.from({ length: n }, (_, i) => `  - &a${i} x${i}\n  - *a${i}\n`).join('')}`;
    const { value, use } = resolved(text, n);
    expect(use.aliases).toBe(n);
    expect((value as { list: string[] }).list.slice(-2)).toEqual([`x${n - 1}`, `x${n - 1}`]);
  });
});

describe('unshare', () => {
  const CASES = [
    ['a sequence used twice', 'init: &c [{name: a, image: x}]\nmain: *c\n'],
    ['nested aliases', 'a: &v 1\nb: {k: *v}\nc: &m {x: *v, l: [1, 2]}\nd: [*m, *m]\n'],
    ['merge keys, one map and a list of them', 'base: &b {name: web, image: x}\nextra: &e {port: 80, name: e}\none: {<<: *b, name: override}\nboth: {<<: [*e, *b], port: 8080}\nlater: {name: first, <<: *b}\n'],
    ['a merge of a map that merges', 'a: &a {x: 1, y: 2}\nb: &b {<<: *a, y: 3}\nc: {<<: *b, z: 4}\n'],
    ['an inline merge', 'c: {<<: {x: 1}, y: 2}\n'],
  ];

  it.each(CASES)('leaves the values as the yaml package reads them: %s', (_name, text) => {
    const doc = parseDocument(text, YAML_1_1);
    resolveAliases(doc, 1000);
    unshare(doc);
    expect(doc.toJS({ maxAliasCount: 0 })).toEqual(parseDocument(text, YAML_1_1).toJS());
    // Written again, it reads the same, with no anchor, alias or merge key left.
    const written = doc.toString();
    expect(written).not.toMatch(/[&*][a-z]|<</);
    expect(parseDocument(written, YAML_1_1).toJS()).toEqual(parseDocument(text, YAML_1_1).toJS());
  });

  it('gives each place a copy of its own: an edit at one leaves the others', () => {
    const doc = parseDocument('init: &c [{name: a, image: x}]\nmain: *c\nmerged: {<<: *c}\n', YAML_1_1);
    resolveAliases(doc, 1000);
    unshare(doc);
    doc.setIn(['main', 0, 'image'], doc.createNode('y'));
    doc.setIn(['init', 0, 'extra'], doc.createNode(true));
    expect(doc.toJS()).toEqual({ init: [{ name: 'a', image: 'x', extra: true }], main: [{ name: 'a', image: 'y' }], merged: { name: 'a', image: 'x' } });
  });

  it('keeps flow and block styles and comments', () => {
    const doc = parseDocument('base: &b # the base\n  image: x # pinned\nflow: &f [1, 2]\nuse:\n  <<: *b\n  list: *f\n', YAML_1_1);
    resolveAliases(doc, 1000);
    unshare(doc);
    const written = doc.toString();
    expect(written).toContain('# the base');
    expect(written.match(/image: x # pinned/g)).toHaveLength(2);
    expect(written.match(/: \[ 1, 2 \]/g)).toHaveLength(2);
  });
});
