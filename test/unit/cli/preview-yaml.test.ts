// `pullgate preview` reads YAML as kubectl and Helm do (anchors, aliases, merge keys, YAML 1.1
// scalars), refuses what it cannot read with exit 2 and the document's number, and streams:
// each document is written when it is complete, whatever the size of the input.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.ts';
import { tempDir, writeConfig, writeSetup } from '../helpers/fixtures.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

const PROXY = 'proxy.example.com/proxy/my-app';

/** The documents of the output as kubectl reads them (YAML 1.1). */
function parseOutput(text: string): any[] {
  const docs = parseAllDocuments(text, { version: '1.1' });
  expect(Array.isArray(docs) && docs.length > 0, 'output holds at least one document').toBe(true);
  for (const doc of docs as ReturnType<typeof parseAllDocuments> & unknown[]) expect(doc.errors).toEqual([]);
  return (docs as Array<{ toJS(): unknown }>).map((d) => d.toJS());
}

/** The raw text of each output document, without its `---` line. */
function outputTexts(text: string): string[] {
  return text.split(/^---\n/m).slice(1);
}

let dir: ReturnType<typeof tempDir>;
let configFile: string;

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('pullgate-preview-yaml-');
  configFile = writeSetup(dir.path).configFile;
}, 120_000);

afterAll(() => dir?.remove());

const preview = (input: string, timeoutMs?: number) =>
  runCli(['preview', '--config', configFile, '-f', '-'], { stdin: input, ...(timeoutMs ? { timeoutMs } : {}) });

describe('anchors, aliases and merge keys', () => {
  it('rewrites containers that are an alias of an anchored list', async () => {
    const input = `apiVersion: v1
kind: Pod
metadata: {name: shared, namespace: my-app}
spec:
  initContainers: &containers
    - name: web
      image: quay.io/acme/web:1
  containers: *containers
`;
    const out = await preview(input);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const [pod, secret] = parseOutput(out.stdout);
    expect(pod.spec.containers).toEqual([{ name: 'web', image: `${PROXY}/quay.io/acme/web:1` }]);
    expect(pod.spec.initContainers).toEqual([{ name: 'web', image: `${PROXY}/quay.io/acme/web:1` }]);
    expect(JSON.parse(pod.metadata.annotations['pullgate.dev/original-images'])).toEqual({ 'containers/web': 'quay.io/acme/web:1', 'initContainers/web': 'quay.io/acme/web:1' });
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'my-app-registry' }]);
    expect(secret.kind).toBe('Secret');
    // Written resolved: no anchor or alias is left to point at a rewritten node.
    expect(outputTexts(out.stdout)[0]).not.toMatch(/[&*]containers/);
  });

  it('applies merge keys: a container that gets its image from `<<: *base` is rewritten', async () => {
    const input = `apiVersion: apps/v1
kind: Deployment
metadata: {name: merged, namespace: my-app}
spec:
  template:
    spec:
      containers:
        - &base
          name: api
          image: quay.io/acme/api:2
          env: [{name: MODE, value: "on"}]
        - <<: *base
          name: worker
        - <<: *base
          name: public
          image: nginx:1.27
      volumes:
        - {name: config, configMap: {name: c, defaultMode: 0644}}
`;
    const out = await preview(input);
    expect(out.code).toBe(0);
    const [deployment] = parseOutput(out.stdout);
    const spec = deployment.spec.template.spec;
    expect(spec.containers).toEqual([
      { name: 'api', image: `${PROXY}/quay.io/acme/api:2`, env: [{ name: 'MODE', value: 'on' }] },
      { name: 'worker', image: `${PROXY}/quay.io/acme/api:2`, env: [{ name: 'MODE', value: 'on' }] },
      { name: 'public', image: 'nginx:1.27', env: [{ name: 'MODE', value: 'on' }] },
    ]);
    expect(JSON.parse(deployment.spec.template.metadata.annotations['pullgate.dev/original-images'])).toEqual({ 'containers/api': 'quay.io/acme/api:2', 'containers/worker': 'quay.io/acme/api:2' });
    // YAML 1.1 as kubectl reads it: 0644 is octal; "on" stays a string when written again.
    expect(spec.volumes[0].configMap.defaultMode).toBe(0o644);
    expect(outputTexts(out.stdout)[0]).not.toContain('<<');
  });

  it('writes documents it does not change exactly as they were, anchors, comments and all', async () => {
    const unchanged = `# defaults
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: my-app}
data:
  a: &v "on"   # kept as written
  b: *v
---
apiVersion: v1
kind: Pod
metadata: {name: public, namespace: my-app}
spec:
  containers: &c [{name: web, image: "nginx:1.27"}]
  initContainers: *c
`;
    const out = await preview(unchanged);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`---\n${unchanged}`);
  });
});

describe('input that cannot be previewed', () => {
  it('refuses an alias bomb with exit 2 naming the document, without expanding it', async () => {
    const levels = ['  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i < 12; i++) levels.push(`  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const input = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n${levels.join('\n')}\n`;
    // 9^12 strings if expanded: finishing at all, within the run's deadline, shows it was not.
    const out = await preview(input, 30_000);
    expect(out.timedOut).toBe(false);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe('pullgate: stdin: document 2 (starting at line 4): its aliases would expand it by more than 100000 nodes (an alias bomb?); not resolved\n');
    expect(parseOutput(out.stdout).map((d) => d.metadata.name)).toEqual(['fine']);
  });

  it('exits 2 naming document 3 and the line for an alias with no anchor', async () => {
    const input = 'a: 1\n---\nb: 2\n---\nkind: Pod\nspec:\n  containers: *missing\n';
    const out = await preview(input);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe('pullgate: stdin: document 3 (line 7, column 15): alias *missing has no anchor before it\n');
  });

  it('exits 2 naming document 3 for YAML that does not parse, past documents with anchors', async () => {
    const input = 'a: &x 1\nb: *x\n---\nc: [1, 2]\n---\nd: {e: 1\n';
    const out = await preview(input);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^pullgate: stdin: document 3 \(line \d+, column \d+\): .+\n$/);
  });

  it('exits 2, not with a stack trace, for nesting deeper than the parser can follow', async () => {
    const out = await preview(`kind: ConfigMap\n---\na: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^pullgate: stdin: document 2 \(.*\): .+\n$/);
    expect(out.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('streaming', () => {
  it('writes a document as soon as it is complete, before the input ends', async () => {
    const child = spawn(process.execPath, [CLI, 'preview', '--config', configFile, '-f', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    try {
      let stdout = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const first = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`first document not written; stdout: ${stdout}`)), 30_000);
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.includes('name: first')) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => reject(new Error(`exited before the input ended; stdout: ${stdout}`)));
      });
      // The `---` line of the second document tells that the first is complete.
      child.stdin.write('kind: ConfigMap\nmetadata: {name: first}\n---\n');
      await first;
      child.stdin.end('kind: ConfigMap\nmetadata: {name: second}\n');
      expect(await exited).toBe(0);
      expect(parseOutput(stdout).map((d) => d.metadata.name)).toEqual(['first', 'second']);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('previews 5 MB of manifests', async () => {
    const documents: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 5 * 1024 * 1024; i++) {
      const doc =
        i % 500 === 0
          ? `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big-${i}, namespace: my-app}\ndata:\n${Array.from({ length: 5000 }, (_, k) => `  key${k}: "a value of the big document, number ${k}"`).join('\n')}\n`
          : i % 2 === 0
            ? `# Source: chart/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  namespace: my-app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: quay.io/acme/app:${i}\n          resources: {requests: {cpu: 100m}}\n        - name: proxy\n          image: nginx:1.27\n`
            : `apiVersion: v1\nkind: Service\nmetadata: {name: app-${i}, namespace: my-app}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n`;
      documents.push(`---\n${doc}`);
      bytes += doc.length + 4;
    }
    const file = writeConfig(dir.path, documents.join(''), 'large.yaml');
    const out = await runCli(['preview', '--config', configFile, '-f', file], { timeoutMs: 300_000 });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const docs = parseOutput(out.stdout);
    expect(docs).toHaveLength(documents.length + 1);
    expect(docs.at(-1).kind).toBe('Secret');
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThan(1000);
    for (const d of deployments) expect(d.spec.template.spec.containers[0].image).toBe(`${PROXY}/quay.io/acme/app:${d.metadata.name.slice(4)}`);
    // The big document went through unchanged, byte for byte.
    expect(out.stdout.startsWith(documents[0]!)).toBe(true);
  }, 320_000);
});

it('reads the input file as it is given, naming it in messages', async () => {
  const file = join(dir.path, 'bad-alias.yaml');
  writeConfig(dir.path, 'kind: Pod\nspec:\n  containers: *x\n', 'bad-alias.yaml');
  const out = await runCli(['preview', '--config', configFile, '-f', file]);
  expect(out.code).toBe(2);
  expect(out.stderr).toContain(`${file}: document 1 (line 3, column 15)`);
});
