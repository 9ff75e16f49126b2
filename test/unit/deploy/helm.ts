// helm for the chart's tests: the binary scripts/render-deploy.ts uses, its state in a temp dir,
// values passed as a file. Without helm the tests that need it are skipped with the reason, except
// under CI=true, where a skip would hide every regression they guard.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, documentsBySource, findHelm, KUBE_VERSION } from '../../../scripts/render-deploy.ts';
import { isCI } from '../../cluster/ensure-binaries.ts';

const found = findHelm();
/** Why helm cannot be had here; undefined when it can. */
export const helmUnavailable = 'unavailable' in found ? found.unavailable : undefined;
if (helmUnavailable !== undefined && isCI()) throw new Error(`CI=true: refusing to skip the chart's tests: ${helmUnavailable}`);
export const HELM = 'helm' in found ? found.helm : 'helm';

const home = mkdtempSync(join(tmpdir(), 'pullgate-helm-'));
const env = { ...process.env, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
let valuesFiles = 0;

export interface HelmResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function helm(args: readonly string[], cwd?: string): HelmResult {
  const result = spawnSync(HELM, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024, ...(cwd ? { cwd } : {}) });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A values file holding `values` (JSON is YAML). */
export function valuesFile(values: object): string {
  const path = join(home, `values-${++valuesFiles}.yaml`);
  writeFileSync(path, JSON.stringify(values));
  return path;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  chart?: string;
  /** More values files, applied before `values`. */
  valuesFiles?: string[];
}

export type Manifest = any;

export interface Rendered {
  /** The release's objects; hooks (helm.sh/hook) are in `hooks` instead. */
  docs: Manifest[];
  /** Helm hooks: objects Helm creates before (or after) the release's own. */
  hooks: Manifest[];
  /** Template ("# Source:" path, e.g. pullgate/templates/rbac.yaml) → its documents. */
  bySource: Map<string, Manifest[]>;
  /** The one document of that kind (and name); throws when there is not exactly one. */
  one(kind: string, name?: string): Manifest;
  all(kind: string): Manifest[];
}

function templateArgs(values: object, o: RenderOptions): string[] {
  return [
    'template', o.release ?? 'acme', o.chart ?? CHART_DIR, '--namespace', o.namespace ?? 'acme-system', '--kube-version', KUBE_VERSION,
    ...(o.valuesFiles ?? []).flatMap((f) => ['--values', f]), '--values', valuesFile(values),
  ];
}

/** `helm template` with these values; throws with helm's message when it refuses. */
export function render(values: object, options: RenderOptions = {}): Rendered {
  const out = helm(templateArgs(values, options));
  if (out.code !== 0) throw new Error(`helm template refused:\n${out.stderr}`);
  const bySource = new Map<string, Manifest[]>();
  for (const [source, docs] of documentsBySource(out.stdout)) {
    bySource.set(source, docs.flatMap((d) => parseAllDocuments(d).map((doc) => doc.toJS())).filter((d) => d !== null));
  }
  const isHook = (d: Manifest) => d.metadata?.annotations?.['helm.sh/hook'] !== undefined;
  const docs = [...bySource.values()].flat().filter((d) => !isHook(d));
  const hooks = [...bySource.values()].flat().filter(isHook);
  const all = (kind: string) => docs.filter((d) => d.kind === kind);
  const one = (kind: string, name?: string) => {
    const found = all(kind).filter((d) => name === undefined || d.metadata.name === name);
    if (found.length !== 1) throw new Error(`${found.length} ${kind}${name ? ` ${name}` : ''} rendered, expected one`);
    return found[0];
  };
  return { docs, hooks, bySource, one, all };
}

/** helm's message refusing these values; throws if it renders them. */
export function refusal(values: object, options: RenderOptions = {}): string {
  const out = helm(templateArgs(values, options));
  if (out.code === 0) throw new Error(`helm template rendered values it should refuse: ${JSON.stringify(values)}`);
  return out.stderr;
}
