// Renders the plain manifests of deploy/ from the Helm chart deploy/helm/pullgate, their one
// source: `helm template` of release pullgate in namespace pullgate with deploy/values.yaml, one
// file per chart template, and the kustomization listing them.
//   node scripts/render-deploy.ts      # rewrites deploy/*.yaml but values.yaml
// helm: $HELM, else the one test/cluster/build.sh caches, else `helm` on PATH.
// test/unit/deploy fails when deploy/ differs from this output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const DEPLOY_DIR = fileURLToPath(new URL('../deploy/', import.meta.url));
export const CHART_DIR = join(DEPLOY_DIR, 'helm', 'pullgate');
export const DEPLOY_VALUES = join(DEPLOY_DIR, 'values.yaml');
export const DEPLOY_RELEASE = 'pullgate';
export const DEPLOY_NAMESPACE = 'pullgate';
/**
 * The Kubernetes version `helm template` renders for: the oldest the chart supports. A helm built
 * without its version stamps (as test/cluster builds it) would otherwise assume v1.20.
 */
export const KUBE_VERSION = '1.30.0';

const BUILD_SCRIPT = fileURLToPath(new URL('../test/cluster/build.sh', import.meta.url));
export const GENERATED_HEADER = '# Generated from deploy/helm/pullgate with deploy/values.yaml by scripts/render-deploy.ts; do not edit.\n';
/** Never generated, never removed. */
const KEPT = new Set(['values.yaml']);

/** The helm binary to use, or why there is none. */
export function findHelm(): { helm: string } | { unavailable: string } {
  const env = process.env['HELM'];
  if (env) return { helm: env };
  const cached = spawnSync('bash', [BUILD_SCRIPT, '--cached-only'], { encoding: 'utf8' });
  const binDir = cached.status === 0 ? cached.stdout.trim().split('\n').at(-1)?.trim() : undefined;
  if (binDir && existsSync(join(binDir, 'helm'))) return { helm: join(binDir, 'helm') };
  const onPath = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
  if (onPath.status === 0) return { helm: 'helm' };
  return { unavailable: 'no helm: set HELM, put helm on PATH, or build the test control plane (test/cluster/build.sh), which caches one' };
}

/** `helm template` of the chart; throws with helm's own message when it refuses. */
export function helmTemplate(helm: string, release: string, namespace: string, args: readonly string[] = [], chart = CHART_DIR): string {
  const result = spawnSync(helm, ['template', release, chart, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`helm template ${release} refused:\n${result.stderr.trim()}`);
  return result.stdout;
}

/** `helm template` output, split by the template each document came from: its "# Source:" path (chart/templates/file) → documents without that line. */
export function documentsBySource(output: string): Map<string, string[]> {
  const bySource = new Map<string, string[]>();
  for (const chunk of output.split(/^---\n/m)) {
    if (chunk.trim() === '') continue;
    const source = /^# Source: ([^\n]+)\n/.exec(chunk);
    if (!source) throw new Error(`helm template printed a document without its "# Source:" line:\n${chunk.slice(0, 200)}`);
    const path = source[1]!;
    bySource.set(path, [...(bySource.get(path) ?? []), chunk.slice(source[0].length)]);
  }
  return bySource;
}

function kustomization(files: readonly string[]): string {
  return (
    GENERATED_HEADER +
    '# Needs a Secret `pullgate-license` (key license.yaml) holding the vendor\'s License document in\n' +
    '# namespace pullgate; pullgate makes its own serving certificate (tls.mode self-managed). The write guard (a\n' +
    '# ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1) needs Kubernetes 1.30 or later.\n' +
    stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: files })
  );
}

/** File name (in deploy/) → content: one file per template that renders anything, in helm's install order, and the kustomization. */
export function renderDeploy(helm: string): Map<string, string> {
  const bySource = documentsBySource(helmTemplate(helm, DEPLOY_RELEASE, DEPLOY_NAMESPACE, ['--values', DEPLOY_VALUES]));
  const files = new Map<string, string>();
  for (const [source, docs] of bySource) {
    const template = /^pullgate\/templates\/([^/]+)$/.exec(source)?.[1];
    if (template === undefined) throw new Error(`${source}: the plain manifests come from the chart's top-level templates only`);
    files.set(template, GENERATED_HEADER + docs.join('---\n'));
  }
  files.set('kustomization.yaml', kustomization([...files.keys()]));
  return files;
}

/** deploy/ files that an earlier rendering wrote and the current one does not. */
export function staleFiles(rendered: ReadonlyMap<string, string>, dir = DEPLOY_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && !KEPT.has(f) && !rendered.has(f))
    .filter((f) => readFileSync(join(dir, f), 'utf8').startsWith(GENERATED_HEADER));
}

if (import.meta.main) {
  const found = findHelm();
  if ('unavailable' in found) {
    process.stderr.write(`${found.unavailable}\n`);
    process.exit(1);
  }
  try {
    const rendered = renderDeploy(found.helm);
    for (const [file, content] of rendered) {
      writeFileSync(join(DEPLOY_DIR, file), content);
      process.stdout.write(`wrote deploy/${file}\n`);
    }
    for (const file of staleFiles(rendered)) {
      rmSync(join(DEPLOY_DIR, file));
      process.stdout.write(`removed deploy/${file}\n`);
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
