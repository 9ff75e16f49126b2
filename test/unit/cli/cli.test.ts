// The shipped CLI (`node dist/main.js`), run as a user runs it: help, preview, and configuration
// errors from both commands.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, ROOT, ensureBuilt, runCli } from '../helpers/cli.ts';
import { AUTH, LICENSE_ID, configObject, tempDir, writeConfig, writeLicense, writeSetup } from '../helpers/fixtures.ts';
import { send } from '../../support/http.ts';
import { startKubeStub } from '../helpers/kube-stub.ts';
import { generateTls } from '../helpers/tls.ts';

// Each test spawns Node (about a second on a busy two-core machine).
vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 });

const PROXY = 'proxy.example.com/proxy/my-app';
const DIGEST = 'sha256:' + 'b'.repeat(64);

// Every Pod-bearing kind, plus documents that must pass through untouched.
const MANIFESTS = `# rendered by helm template
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: my-app
spec:
  containers:
    - name: web
      image: quay.io/acme/web:1.0
    - name: proxy
      image: nginx:1.27
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: my-app
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      initContainers:
        - name: migrate
          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/migrate:3
      containers:
        - name: api # the API server
          image: acme/api:2
        - name: cache
          image: redis:7
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: my-app
spec:
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
      annotations:
        existing: kept
    spec:
      containers:
        - name: db
          image: quay.io/acme/db@${DIGEST}
        - name: exporter
          image: quay.io/prometheus/node-exporter:v1
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: my-app
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      imagePullSecrets:
        - name: existing-secret
      containers:
        - name: agent
          image: docker.io/acme/agent:1
        - name: shell
          image: busybox
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
  namespace: my-app
spec:
  selector:
    matchLabels: {app: rs}
  template:
    metadata:
      labels: {app: rs}
    spec:
      containers:
        - name: rs
          image: quay.io/acme/rs:5
        - name: pause
          image: registry.k8s.io/pause:3.10
---
apiVersion: batch/v1
kind: Job
metadata:
  name: job
  namespace: batch
spec:
  template:
    metadata:
      labels: {app: job}
    spec:
      restartPolicy: Never
      containers:
        - name: job
          image: quay.io/acme/job:1
        - name: tool
          image: alpine:3
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cron
  namespace: batch
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {app: cron}
        spec:
          restartPolicy: OnFailure
          containers:
            - name: cron
              image: quay.io/acme/cron:1
            - name: tool
              image: busybox:1.36
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: my-app
data:
  image: quay.io/acme/web:1.0
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: my-app
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
`;

interface Expectation {
  kind: string;
  path: string[];
  rewritten: Record<string, string>;
  untouched: Record<string, string>;
  pullSecrets: string[];
}

const WORKLOADS: Expectation[] = [
  { kind: 'Pod', path: [], rewritten: { 'containers/web': 'quay.io/acme/web:1.0' }, untouched: { 'containers/proxy': 'nginx:1.27' }, pullSecrets: ['my-app-registry'] },
  {
    kind: 'Deployment',
    path: ['spec', 'template'],
    rewritten: { 'initContainers/migrate': '123456789012.dkr.ecr.us-east-1.amazonaws.com/migrate:3', 'containers/api': 'acme/api:2' },
    untouched: { 'containers/cache': 'redis:7' },
    pullSecrets: ['my-app-registry'],
  },
  { kind: 'StatefulSet', path: ['spec', 'template'], rewritten: { 'containers/db': `quay.io/acme/db@${DIGEST}` }, untouched: { 'containers/exporter': 'quay.io/prometheus/node-exporter:v1' }, pullSecrets: ['my-app-registry'] },
  { kind: 'DaemonSet', path: ['spec', 'template'], rewritten: { 'containers/agent': 'docker.io/acme/agent:1' }, untouched: { 'containers/shell': 'busybox' }, pullSecrets: ['existing-secret', 'my-app-registry'] },
  { kind: 'ReplicaSet', path: ['spec', 'template'], rewritten: { 'containers/rs': 'quay.io/acme/rs:5' }, untouched: { 'containers/pause': 'registry.k8s.io/pause:3.10' }, pullSecrets: ['my-app-registry'] },
  { kind: 'Job', path: ['spec', 'template'], rewritten: { 'containers/job': 'quay.io/acme/job:1' }, untouched: { 'containers/tool': 'alpine:3' }, pullSecrets: ['my-app-registry'] },
  { kind: 'CronJob', path: ['spec', 'jobTemplate', 'spec', 'template'], rewritten: { 'containers/cron': 'quay.io/acme/cron:1' }, untouched: { 'containers/tool': 'busybox:1.36' }, pullSecrets: ['my-app-registry'] },
];

/** The image the contract says a private image becomes, from its normalized `host/path`. */
const PROXIED: Record<string, string> = {
  'quay.io/acme/web:1.0': `${PROXY}/quay.io/acme/web:1.0`,
  '123456789012.dkr.ecr.us-east-1.amazonaws.com/migrate:3': `${PROXY}/123456789012.dkr.ecr.us-east-1.amazonaws.com/migrate:3`,
  'acme/api:2': `${PROXY}/docker.io/acme/api:2`,
  [`quay.io/acme/db@${DIGEST}`]: `${PROXY}/quay.io/acme/db@${DIGEST}`,
  'docker.io/acme/agent:1': `${PROXY}/docker.io/acme/agent:1`,
  'quay.io/acme/rs:5': `${PROXY}/quay.io/acme/rs:5`,
  'quay.io/acme/job:1': `${PROXY}/quay.io/acme/job:1`,
  'quay.io/acme/cron:1': `${PROXY}/quay.io/acme/cron:1`,
};

function at(obj: unknown, path: readonly (string | number)[]): any {
  return path.reduce<any>((node, key) => (node === undefined || node === null ? undefined : node[key]), obj);
}

function imageAt(template: unknown, key: string): string {
  const [location, name] = key.split('/') as [string, string];
  const entry = (at(template, ['spec', location]) as Array<{ name: string; image: string }>).find((c) => c.name === name);
  return entry!.image;
}

function parseOutput(text: string): any[] {
  const docs = parseAllDocuments(text);
  expect(Array.isArray(docs) && docs.length > 0, 'output holds at least one document').toBe(true);
  for (const doc of docs as ReturnType<typeof parseAllDocuments> & unknown[]) expect(doc.errors).toEqual([]);
  return (docs as Array<{ toJS(): unknown }>).map((d) => d.toJS());
}

let dir: ReturnType<typeof tempDir>;
let configFile: string;
let manifestFile: string;

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('pullgate-cli-');
  configFile = writeSetup(dir.path).configFile;
  manifestFile = join(dir.path, 'manifests.yaml');
  writeConfig(dir.path, MANIFESTS, 'manifests.yaml');
}, 120_000);

afterAll(() => dir?.remove());

describe('pullgate --help', () => {
  it('lists the commands', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: pullgate /m);
    expect(result.stdout).toMatch(/^\s+serve\b/m);
    expect(result.stdout).toMatch(/^\s+preview\b/m);
    expect(result.stdout).toContain('--version');
  });

  it('lists the preview flags', async () => {
    const result = await runCli(['preview', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: pullgate preview /m);
    expect(result.stdout).toMatch(/-c, --config <file>/);
    expect(result.stdout).toMatch(/-f, --file <file>/);
    expect(result.stdout).toContain('stdin');
  });

  it('lists the serve flags: port, TLS files, metrics port', async () => {
    const result = await runCli(['serve', '--help']);
    expect(result.code).toBe(0);
    for (const flag of ['--config <file>', '--port <port>', '--metrics-port <port>', '--tls-cert-file <file>', '--tls-key-file <file>', '--kubeconfig <file>',
      '--tls <mode>', '--tls-ca-secret <name>', '--webhook-configuration <name>', '--service-name <name>', '--tls-san <name>', '--tls-cert-validity <duration>', '--install-guard <name>']) {
      expect(result.stdout).toContain(flag);
    }
  });

  it('refuses a TLS mode that does not exist and a certificate validity without a unit or under 10 s', async () => {
    for (const [args, message] of [
      [['--tls', 'manual'], /--tls.*Allowed choices are files, self-managed/],
      [['--tls-cert-validity', '7'], /--tls-cert-validity.*must be a duration of at least 10s/],
      [['--tls-cert-validity', '5s'], /--tls-cert-validity.*must be a duration of at least 10s/],
    ] as const) {
      const result = await runCli(['serve', '--config', 'x.yaml', ...args]);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr).toMatch(message);
    }
  });

  it('prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('rejects a port that is not a port number', async () => {
    const result = await runCli(['serve', '--config', 'x.yaml', '--port', '70000']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--port.*must be a port number/);
  });

  it('rejects an unknown command and a missing --config', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/i);
    const missing = await runCli(['preview', '-f', manifestFile]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--config');
  });
});

describe('pullgate preview', () => {
  let result: Awaited<ReturnType<typeof runCli>>;
  let docs: any[];

  beforeAll(async () => {
    result = await runCli(['preview', '--config', configFile, '-f', manifestFile]);
    docs = result.code === 0 ? parseOutput(result.stdout) : [];
  });

  it('exits 0 and prints every input document, then one Secret per namespace', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(docs.map((d) => d.kind)).toEqual(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ConfigMap', 'Service', 'Secret', 'Secret']);
  });

  it.each(WORKLOADS)('rewrites private images of a $kind, keeps public ones, adds the pull secret and the annotation', (expectation) => {
    const doc = docs.find((d) => d.kind === expectation.kind);
    const template = at(doc, expectation.path);
    for (const [key, original] of Object.entries(expectation.rewritten)) expect(imageAt(template, key), key).toBe(PROXIED[original]);
    for (const [key, image] of Object.entries(expectation.untouched)) expect(imageAt(template, key), key).toBe(image);
    expect(template.spec.imagePullSecrets).toEqual(expectation.pullSecrets.map((name) => ({ name })));
    expect(JSON.parse(template.metadata.annotations['pullgate.dev/original-images'])).toEqual(expectation.rewritten);
  });

  it('changes nothing else in the workloads', () => {
    const input = parseOutput(MANIFESTS);
    WORKLOADS.forEach((expectation, i) => {
      const expected = structuredClone(input[i]);
      const template = at(expected, expectation.path);
      for (const key of Object.keys(expectation.rewritten)) {
        const [location, name] = key.split('/') as [string, string];
        const entry = template.spec[location].find((c: { name: string }) => c.name === name);
        entry.image = PROXIED[entry.image];
      }
      template.spec.imagePullSecrets = expectation.pullSecrets.map((name) => ({ name }));
      template.metadata ??= {};
      template.metadata.annotations = { ...template.metadata.annotations, 'pullgate.dev/original-images': expectation.rewritten };
      // The annotation is JSON text; its key order is not part of the contract.
      const actual = structuredClone(docs[i]);
      const annotations = at(actual, [...expectation.path, 'metadata', 'annotations']);
      annotations['pullgate.dev/original-images'] = JSON.parse(annotations['pullgate.dev/original-images']);
      expect(actual, expectation.kind).toEqual(expected);
    });
  });

  it('passes the ConfigMap and the Service through unchanged', () => {
    const input = parseOutput(MANIFESTS);
    expect(docs[7]).toEqual(input[7]);
    expect(docs[8]).toEqual(input[8]);
  });

  it('keeps comments', () => {
    expect(result.stdout).toContain('# the API server');
  });

  it('appends the pull Secret of the contract for each namespace', () => {
    const secrets = docs.filter((d) => d.kind === 'Secret');
    expect(secrets.map((s) => s.metadata.namespace).sort()).toEqual(['batch', 'my-app']);
    for (const secret of secrets) {
      expect(secret).toMatchObject({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/dockerconfigjson',
        metadata: { name: 'my-app-registry', labels: { 'app.kubernetes.io/managed-by': 'pullgate' } },
      });
      expect(Object.keys(secret.data)).toEqual(['.dockerconfigjson']);
      const config = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString('utf8'));
      expect(config).toEqual({ auths: { 'proxy.example.com': { auth: AUTH }, 'registry.example.com': { auth: AUTH } } });
      expect(Buffer.from(config.auths['proxy.example.com'].auth, 'base64').toString()).toBe(`LICENSE_ID:${LICENSE_ID}`);
    }
  });

  it('is a fixed point: previewing its own output changes nothing', async () => {
    const again = await runCli(['preview', '--config', configFile, '-f', '-'], { stdin: result.stdout });
    expect(again.code).toBe(0);
    // The Secrets are appended again (the input already had them), the rest is identical.
    expect(parseOutput(again.stdout).filter((d) => d.kind !== 'Secret')).toEqual(docs.filter((d) => d.kind !== 'Secret'));
  });

  it('reads stdin with -f - and writes the same output', async () => {
    const piped = await runCli(['preview', '--config', configFile, '-f', '-'], { stdin: MANIFESTS });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(result.stdout);
  });

  it('leaves an opted-out Pod and a Pod in kube-system unchanged, with no Secret', async () => {
    const input = [
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: my-app\n  labels: {pullgate.dev/inject: disabled}\nspec:\n  containers: [{name: a, image: quay.io/acme/a:1}]\n',
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  namespace: kube-system\nspec:\n  containers: [{name: b, image: quay.io/acme/b:1}]\n',
    ].join('---\n');
    const out = await runCli(['preview', '--config', configFile], { stdin: input });
    expect(out.code).toBe(0);
    expect(parseOutput(out.stdout)).toEqual(parseOutput(input));
  });

  it('appends a Secret without a namespace for workloads without one', async () => {
    const input = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: [{name: a, image: quay.io/acme/a:1}]\n';
    const out = await runCli(['preview', '--config', configFile], { stdin: input });
    expect(out.code).toBe(0);
    const [podDoc, secret, ...rest] = parseOutput(out.stdout);
    expect(rest).toEqual([]);
    expect(podDoc.spec.containers[0].image).toBe(`${PROXY}/quay.io/acme/a:1`);
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata).toEqual({ name: 'my-app-registry', labels: { 'app.kubernetes.io/managed-by': 'pullgate' } });
  });

  it('prints warnings on stderr, naming the document and the image', async () => {
    const input = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers: [{name: c, image: "quay.io/acme/Bad:1"}]\n';
    const out = await runCli(['preview', '--config', configFile, '-f', '-'], { stdin: input });
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/^warning: document 1 \(Pod bad\): .*"quay\.io\/acme\/Bad:1"/m);
  });

  it('exits 2 naming document 3 and the line of bad YAML in the third document', async () => {
    const lines = ['kind: ConfigMap', 'metadata: {name: a}', '---', 'kind: ConfigMap', 'metadata: {name: b}', '---', 'kind: Pod', 'metadata:', '  name: c', '  labels: {a: b', 'spec: {}', ''];
    const file = writeConfig(dir.path, lines.join('\n'), 'bad.yaml');
    const out = await runCli(['preview', '--config', configFile, '-f', file]);
    expect(out.code).toBe(2);
    // Documents are written as they are read: the two before the bad one, nothing from it on.
    expect(parseOutput(out.stdout).map((d) => d.metadata.name)).toEqual(['a', 'b']);
    // The unclosed flow mapping starts on line 10; the parser notices on line 11.
    const match = /document 3\b.*\bline (\d+)/.exec(out.stderr);
    expect(match, out.stderr).not.toBeNull();
    expect([10, 11]).toContain(Number(match![1]));
    expect(out.stderr).toContain('bad.yaml');
  });

  it('exits 2 naming stdin for bad YAML read from stdin', async () => {
    const out = await runCli(['preview', '--config', configFile], { stdin: 'a: 1\n---\nb: 2\n---\nc: 1\n  d: 2\n' });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/stdin: document 3 \(line 5\b/);
  });

  it('exits 2 when the input file cannot be read', async () => {
    const out = await runCli(['preview', '--config', configFile, '-f', join(dir.path, 'missing.yaml')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot read .*missing\.yaml: ENOENT/);
  });
});

describe('configuration problems', () => {
  let badConfig: string;
  const PROBLEMS = [
    /proxyDomain:? "https:\/\/proxy\.example\.com" is not a registry host/,
    /privateRegistries\[1\] "registry\.acme\.com:5000\/acme": .*port/,
    /privateRegistries\[2\] "\[::1\]\/acme": .*IPv6/,
    /proxyDomian: unknown setting/,
    /namespaces\.optInLabel: "not a label" must be key=value/,
  ];

  beforeAll(() => {
    const licenseFile = writeLicense(dir.path, {}, 'license-for-bad.yaml');
    badConfig = writeConfig(
      dir.path,
      configObject(licenseFile, {
        proxyDomain: 'https://proxy.example.com',
        privateRegistries: ['quay.io/acme', 'registry.acme.com:5000/acme', '[::1]/acme'],
        proxyDomian: 'typo.example.com',
        namespaces: { application: 'my-app', optInLabel: 'not a label' },
      }),
      'bad-config.yaml',
    );
  });

  it('preview exits non-zero and lists every problem at once', async () => {
    const out = await runCli(['preview', '--config', badConfig], { stdin: MANIFESTS });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`${badConfig}: ${PROBLEMS.length} problem(s)`);
    for (const problem of PROBLEMS) expect(out.stderr).toMatch(problem);
    expect(out.stderr).not.toContain(LICENSE_ID);
  });

  it('serve exits non-zero and lists every problem, before touching TLS files or the cluster', async () => {
    const out = await runCli(['serve', '--config', badConfig, '--port', '0', '--metrics-port', '0', '--tls-cert-file', '/nonexistent/tls.crt']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`${PROBLEMS.length} problem(s)`);
    for (const problem of PROBLEMS) expect(out.stderr).toMatch(problem);
    expect(out.stderr).not.toContain(LICENSE_ID);
  });

  it('names a missing config file and a broken license', async () => {
    const missing = await runCli(['serve', '--config', join(dir.path, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.yaml.*\n.*cannot read the configuration file: ENOENT/);

    const licenseFile = join(dir.path, 'broken-license.yaml');
    writeConfig(dir.path, `apiVersion: kots.io/v1beta1\nkind: License\nspec:\n  licenseID: ${LICENSE_ID}\n  entitlements:\n    expires_at: {value: tomorrow}\n`, 'broken-license.yaml');
    const config = writeConfig(dir.path, configObject(licenseFile), 'broken-license-config.yaml');
    const broken = await runCli(['preview', '--config', config], { stdin: '' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/spec\.appSlug is required/);
    expect(broken.stderr).toMatch(/"tomorrow" is not an RFC 3339 time/);
    expect(broken.stderr).not.toContain(LICENSE_ID);
  });
});

describe('pullgate serve', () => {
  it('refuses to start outside a cluster without a kubeconfig, rather than warn on every Pod', async () => {
    const serveDir = tempDir('pullgate-cli-nokube-');
    try {
      const tls = generateTls(serveDir.path);
      const { configFile: cfg } = writeSetup(serveDir.path);
      const out = await runCli(['serve', '--config', cfg, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile]);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('not running in a cluster: pass --kubeconfig FILE (or set KUBECONFIG)');
    } finally {
      serveDir.remove();
    }
  });

  it('serves HTTPS with the given certificate and stops cleanly on SIGTERM', async () => {
    const serveDir = tempDir('pullgate-cli-serve-');
    const tls = generateTls(serveDir.path);
    const stub = await startKubeStub(tls);
    let running: ReturnType<typeof spawn> | undefined;
    try {
      const kubeconfig = stub.writeKubeconfig(join(serveDir.path, 'kubeconfig'));
      const { configFile: cfg } = writeSetup(serveDir.path);
      const child = spawn(
        process.execPath,
        [CLI, 'serve', '--config', cfg, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--kubeconfig', kubeconfig, '--namespace', 'pullgate'],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
      );
      running = child;
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "pullgate serving" line; stderr: ${stderr}`)), 15_000);
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          stdout += c;
          const line = stdout.split('\n').find((l) => l.includes('"pullgate serving"'));
          if (line) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as Record<string, unknown>);
          }
        });
      });
      expect(serving).toMatchObject({ proxyDomain: 'proxy.example.com', appSlug: 'my-app', pullSecret: 'my-app-registry' });
      const health = await send(serving.port as number, { path: '/healthz', ca: tls.caPem });
      expect(health.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toContain('"shutting down"');
      expect(stdout).not.toContain(LICENSE_ID);
      expect(stdout).not.toContain(AUTH);
    } finally {
      // Already gone after a passing run; a failing one must not leave a server behind.
      if (running && running.exitCode === null) running.kill('SIGKILL');
      await stub.close();
      serveDir.remove();
    }
  });
});
