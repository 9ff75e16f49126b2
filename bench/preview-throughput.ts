// `pullgate preview` on a large rendered chart: MB/s, peak RSS and the heap left after each full
// garbage collection of the CLI as it runs, on 50 MB of manifests (Deployments, Services,
// ConfigMaps, a few big CRDs, some documents with anchors and merge keys), on 10 MB of the same mix
// (the rate should not fall as input grows), on the largest document alone (memory should follow
// that, not the input size) and on no input (start-up). `npm run bench:preview`; BENCH_MB sets the
// large size (100 shows peak RSS levelling off). Prints `[figure]` lines; figures vary with the
// machine.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configObject, writeLicense } from '../test/unit/helpers/fixtures.ts';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const mb = (bytes: number): number => bytes / (1024 * 1024);
const LARGE_MB = Number(process.env.BENCH_MB ?? 50);
const SMALL_MB = Math.min(10, LARGE_MB);

/** A deterministic stream of documents; returns its size and the largest document's. */
async function writeManifests(path: string, targetBytes: number): Promise<{ bytes: number; documents: number; largest: string }> {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const out = createWriteStream(path);
  let bytes = 0;
  let documents = 0;
  let largest = '';
  // A big CRD (~1 MB, like the operators' largest) every ~12 MB.
  const crdEvery = 12 * 1024 * 1024;
  let nextCrd = crdEvery / 2;
  for (let i = 1; bytes < targetBytes; i++) {
    let doc: string;
    if (bytes >= nextCrd) {
      doc = crd(i);
      nextCrd += crdEvery;
    } else {
      const pick = rand(10);
      doc = pick < 4 ? deployment(i, rand) : pick < 7 ? service(i) : configMap(i, rand);
    }
    if (doc.length > largest.length) largest = doc;
    const text = `---\n${doc}`;
    bytes += Buffer.byteLength(text);
    documents += 1;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { bytes, documents, largest };
}

const IMAGES = ['quay.io/acme/web:1.4.0', 'docker.io/acme/api:2.1', 'nginx:1.27', 'redis:7', '123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:3', 'quay.io/prometheus/node-exporter:v1.8.0'];

function deployment(i: number, rand: (n: number) => number): string {
  const containers = Array.from({ length: 1 + rand(3) }, (_, c) => `        - name: c${c}
          image: ${IMAGES[rand(IMAGES.length)]}
          ports:
            - containerPort: ${8000 + c}
              name: http${c}
          env:
            - name: LOG_LEVEL
              value: info
            - name: POD_NAME
              valueFrom:
                fieldRef: {fieldPath: metadata.name}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: ${8000 + c}}
            periodSeconds: 10
          volumeMounts:
            - name: config
              mountPath: /etc/app`).join('\n');
  // One Deployment in twenty shares its container settings through an anchor and a merge key.
  const shared = i % 20 === 0
    ? `        - &base
          name: base
          image: quay.io/acme/base:1
          env: &env
            - {name: MODE, value: "on"}
        - <<: *base
          name: merged
          env: *env
`
    : '';
  return `# Source: chart/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  namespace: ns-${i % 7}
  labels:
    app.kubernetes.io/name: app-${i}
    app.kubernetes.io/instance: release
    app.kubernetes.io/version: "1.4.0"
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: app-${i}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-${i}
    spec:
      serviceAccountName: app-${i}
      securityContext: {runAsNonRoot: true, fsGroup: 1000}
      containers:
${shared}${containers}
      volumes:
        - name: config
          configMap: {name: app-${i}-config, defaultMode: 0644}
`;
}

function service(i: number): string {
  return `# Source: chart/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: app-${i}
  namespace: ns-${i % 7}
  labels: {app.kubernetes.io/name: app-${i}}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: app-${i}}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
`;
}

function configMap(i: number, rand: (n: number) => number): string {
  const lines = Array.from({ length: 20 + rand(60) }, (_, l) => `    setting_${l} = "value-${l}-${i}"  # default`).join('\n');
  return `# Source: chart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${i}-config
  namespace: ns-${i % 7}
data:
  app.conf: |
${lines}
  mode: "production"
  enabled: "true"
`;
}

/** An openAPIV3Schema five levels deep, five properties at each: about 1 MB. */
function crd(i: number): string {
  const schema = (depth: number, indent: string): string => {
    if (depth === 0) return `${indent}type: string\n${indent}maxLength: 253\n${indent}description: A setting of the widget; see the documentation for the values it takes, their defaults and how they interact.\n`;
    let out = `${indent}type: object\n${indent}description: Settings at depth ${depth}.\n${indent}properties:\n`;
    for (let p = 0; p < 5; p++) out += `${indent}  field${p}:\n${schema(depth - 1, `${indent}    `)}`;
    return out;
  };
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets${i}.example.com
spec:
  group: example.com
  names: {kind: Widget${i}, plural: widgets${i}, singular: widget${i}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
${schema(5, '          ')}`;
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  maxRssMb: number;
  liveHeapMb: number;
  outputDocuments: number;
}

// Reports the child's own peak RSS and CPU time on fd 3 as it exits (Node has no rusage of children).
const REPORTER = `data:text/javascript,${encodeURIComponent(
  "import { writeSync } from 'node:fs'; process.on('exit', () => { const u = process.resourceUsage(); writeSync(3, JSON.stringify({ maxRss: u.maxRSS, cpu: u.userCPUTime + u.systemCPUTime })); });",
)}`;

/** A full collection in V8's --trace-gc lines (on stdout): `Mark-Compact 95.7 (179.3) -> 36.4 (174.1) MB`. */
const FULL_GC = /^\[\d+:0x[0-9a-f]+\]\s+[\d.]+ ms: Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) /;

async function preview(configFile: string, input: string): Promise<Run> {
  const start = performance.now();
  // --trace-gc shows what the program holds after each full collection, as against what V8 keeps.
  const child = spawn(process.execPath, ['--trace-gc', '--import', REPORTER, join(ROOT, 'src', 'main.ts'), 'preview', '--config', configFile, '-f', input], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let outputDocuments = 0;
  let liveHeapMb = 0;
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const gc = FULL_GC.exec(line);
      if (gc) {
        liveHeapMb = Math.max(liveHeapMb, Number(gc[1]));
        continue;
      }
      if (line.startsWith('[') && line.includes(' ms: ')) continue;
      if (line === '---') outputDocuments += 1;
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let report = '';
  (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (chunk: string) => (report += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`preview exited with ${code}: ${stderr.slice(0, 2000)}`);
  const usage = JSON.parse(report) as { maxRss: number; cpu: number };
  return { seconds, cpuSeconds: usage.cpu / 1e6, maxRssMb: usage.maxRss / 1024, liveHeapMb, outputDocuments };
}

const dir = mkdtempSync(join(tmpdir(), 'pullgate-bench-preview-'));
try {
  const licenseFile = writeLicense(dir);
  const configFile = join(dir, 'pullgate.yaml');
  writeFileSync(configFile, stringify(configObject(licenseFile)));
  const large = await writeManifests(join(dir, 'large.yaml'), LARGE_MB * 1024 * 1024);
  const small = await writeManifests(join(dir, 'small.yaml'), SMALL_MB * 1024 * 1024);
  writeFileSync(join(dir, 'largest.yaml'), large.largest);
  writeFileSync(join(dir, 'empty.yaml'), '');
  console.log(`input: ${large.documents} documents, ${mb(large.bytes).toFixed(1)} MB (${small.documents} in the ${SMALL_MB} MB one); largest document ${mb(Buffer.byteLength(large.largest)).toFixed(2)} MB`);
  const cases: Array<[string, string, number]> = [
    ['empty input (start-up)', join(dir, 'empty.yaml'), 0],
    ['largest document alone', join(dir, 'largest.yaml'), 1],
    [`${SMALL_MB} MB mix`, join(dir, 'small.yaml'), small.documents],
    [`${LARGE_MB} MB mix`, join(dir, 'large.yaml'), large.documents],
  ];
  const rates: number[] = [];
  let startupCpu = 0;
  for (const [name, file, documents] of cases) {
    const size = mb(statSync(file).size);
    const run = await preview(configFile, file);
    if (documents === 0) startupCpu = run.cpuSeconds;
    // CPU time past start-up (loading the program), which the input size does not change.
    const netRate = size / (run.cpuSeconds - startupCpu);
    if (documents > 1) rates.push(netRate);
    const rate = size > 0 ? `${(size / run.seconds).toFixed(2).padStart(5)} MB/s; CPU ${run.cpuSeconds.toFixed(1)} s, ${netRate.toFixed(2)} MB/s past start-up` : `CPU ${run.cpuSeconds.toFixed(1)} s`;
    console.log(`[figure] preview ${name.padEnd(24)} ${size.toFixed(1).padStart(5)} MB  ${run.seconds.toFixed(1).padStart(5)} s  ${rate}  peak RSS ${run.maxRssMb.toFixed(0)} MB (heap after a full GC at most ${run.liveHeapMb.toFixed(0)} MB)  ${run.outputDocuments} documents out`);
  }
  // Linear time: the rate on the large input over the rate on the small one (1.0 = linear).
  console.log(`[figure] preview CPU rate, ${LARGE_MB} MB over ${SMALL_MB} MB: ${(rates[1]! / rates[0]!).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
