// How a setting is declared, parsed and defaulted: a table of settings (nested sections), parsed in
// one pass that collects every problem instead of stopping at the first.
import { isRecord } from '../util/is-record.ts';

/** A parsed value, or every problem with it (at least one). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly [string, ...string[]] };
/** The settings of the same mapping parsed so far, by key: for the few rules that span settings. */
export type Earlier = Readonly<Record<string, unknown>>;
/** Parses a value present in the file; `at` is its dotted path, which every problem starts with. */
export type Parser<T> = (value: unknown, at: string, earlier: Earlier) => Parsed<T>;

export interface Setting<T> {
  /** What the setting holds; the message for a missing required setting quotes it. */
  readonly doc: string;
  /** Used, and parsed like a written value, when the setting is absent (or null). */
  readonly default?: unknown;
  /** Absent with no default: a problem, instead of an undefined value. */
  readonly required?: boolean;
  readonly parse: Parser<T>;
}

/** A nested mapping of settings; absent means every setting in it is absent. */
export interface Section<S extends Table> {
  readonly section: S;
}

export interface Table {
  readonly [key: string]: Setting<unknown> | Section<Table>;
}

/** The parsed settings of a table, once valid. */
export type Values<S extends Table> = {
  readonly [K in keyof S]: S[K] extends Section<infer I extends Table> ? Values<I> : S[K] extends Setting<infer T> ? T : never;
};

/** Marks a setting that did not parse in a draft, so rules that read it pass over it. */
export const INVALID: unique symbol = Symbol('invalid');

/** The parsed settings of a table, some possibly INVALID. */
export type Draft<S extends Table> = {
  readonly [K in keyof S]: S[K] extends Section<infer I extends Table> ? Draft<I> : S[K] extends Setting<infer T> ? T | typeof INVALID : never;
};

export function setting<T>(spec: { doc: string; parse: Parser<T>; default: unknown } | { doc: string; parse: Parser<T>; required: true }): Setting<T>;
export function setting<T>(spec: { doc: string; parse: Parser<T> }): Setting<T | undefined>;
export function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

export function section<S extends Table>(settings: S): Section<S> {
  return { section: settings };
}

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = (problem: string, ...more: string[]): Parsed<never> => ({ ok: false, problems: [problem, ...more] });

/** `parser`, then `check` on what it parsed: problems, or none to accept it as is. */
export function checked<T>(parser: Parser<T>, check: (value: T, at: string, earlier: Earlier) => readonly string[]): Parser<T> {
  return (value, at, earlier) => {
    const parsed = parser(value, at, earlier);
    if (!parsed.ok) return parsed;
    const [problem, ...more] = check(parsed.value, at, earlier);
    return problem === undefined ? parsed : fail(problem, ...more);
  };
}

/** Parses every setting of `table` in `obj`, in table order; unknown keys come first. Never throws. */
export function parseTable<S extends Table>(table: S, obj: Readonly<Record<string, unknown>>, at: string): { draft: Draft<S>; problems: string[] } {
  const path = (key: string) => (at === '' ? key : `${at}.${key}`);
  // hasOwn, not `in`: a key such as "constructor" is no setting.
  const problems = Object.keys(obj)
    .filter((key) => !Object.hasOwn(table, key))
    .map((key) => `${path(key)}: unknown setting`);
  const draft: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
    const absent = value === undefined || value === null;
    if ('section' in entry) {
      if (!absent && !isRecord(value)) problems.push(`${path(key)}: must be a mapping`);
      const inner = parseTable(entry.section, isRecord(value) ? value : {}, path(key));
      draft[key] = inner.draft;
      problems.push(...inner.problems);
      continue;
    }
    const given = absent ? entry.default : value;
    if (given === undefined) {
      if (entry.required) problems.push(`${path(key)}: required (${entry.doc})`);
      draft[key] = entry.required ? INVALID : undefined;
      continue;
    }
    const parsed = entry.parse(given, path(key), draft);
    draft[key] = parsed.ok ? parsed.value : INVALID;
    if (!parsed.ok) problems.push(...parsed.problems);
  }
  return { draft: draft as Draft<S>, problems };
}

/** Freezes a parsed configuration, all the way down. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
