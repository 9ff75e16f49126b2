// What the fuzz properties share: their budget (a fixed seed and a few runs in the normal suite, a
// random seed and many runs under `npm run fuzz`), image strings from valid to noise, JSON text that
// JSON.stringify cannot write, and `pullgate serve` started against the in-memory API server.
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULT_LEASE_NAME } from '../../../src/k8s/access-policy.ts';
import { startPullgate, type RunningPullgate } from '../../../src/server/start.ts';
import { eventually } from '../../support/eventually.ts';
import { send } from '../../support/http.ts';
import { tempDir, writeSetup } from '../helpers/fixtures.ts';
import { startKubeStub, type KubeStub } from '../helpers/kube-stub.ts';
import { captureLogs, type CapturedLogs } from '../helpers/logs.ts';
import { generateTls } from '../helpers/tls.ts';

// ---------------------------------------------------------------------------------------------
// Budget

/** Seed of the normal suite: the same cases on every run, so a failure there is a regression. */
const FIXED_SEED = 20_240_611;
/** How many times more runs `npm run fuzz` (FUZZ=long) makes of each property. */
const LONG_FACTOR = 25;

function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

export interface Budget {
  /** For fc.assert: seed, runs and, when replaying, the path of the failing case. */
  params: { seed: number; numRuns: number; path?: string; endOnFailure?: boolean };
  /** The vitest timeout for the property: `msPerRun` for each run, and a minute to spare. */
  timeoutMs: number;
}

/**
 * The runs and seed of one property. Normal suite: `runs` runs from a fixed seed. `npm run fuzz`
 * (FUZZ=long): `longRuns` (default LONG_FACTOR times as many) from a random seed, printed so a
 * failure can be replayed. FUZZ_RUNS and FUZZ_SEED override either (FUZZ_PATH, with FUZZ_SEED,
 * replays the one case fast-check names after a failure).
 */
export function budget(name: string, runs: number, msPerRun: number, longRuns = runs * LONG_FACTOR): Budget {
  const long = process.env.FUZZ === 'long';
  const numRuns = envInteger('FUZZ_RUNS') ?? (long ? longRuns : runs);
  const seed = envInteger('FUZZ_SEED') ?? (long ? (Math.random() * 2 ** 31) | 0 : FIXED_SEED);
  const path = process.env.FUZZ_SEED && process.env.FUZZ_PATH ? process.env.FUZZ_PATH : undefined;
  if (long || process.env.FUZZ_SEED || process.env.FUZZ_RUNS) {
    console.log(`[fuzz] ${name}: FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns}${path ? ` FUZZ_PATH=${path}` : ''}`);
  }
  return { params: { seed, numRuns, ...(path ? { path, endOnFailure: true } : {}) }, timeoutMs: 60_000 + numRuns * msPerRun };
}

// ---------------------------------------------------------------------------------------------
// Strings

/** One UTF-16 unit of a surrogate pair, alone: not valid Unicode, still a JS string. */
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
const oddChar = fc.oneof(control, loneSurrogate, fc.constantFrom('\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\ufffd', '"', '\\', '/', '~', '%', '{', '}', '[', ']', ':', '\u{1f600}'));

/** Text with control characters, lone surrogates and JSON/YAML punctuation mixed in. */
export const noisyString = (maxLength = 40) =>
  fc.array(fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 4 }) }, { weight: 2, arbitrary: oddChar }), { maxLength: Math.ceil(maxLength / 3) }).map((parts) => parts.join(''));

// ---------------------------------------------------------------------------------------------
// Image references

const repository = fc.constantFrom('web', 'api', 'tools/cli', 'a.b_c-d', 'x', 'deep/er/path');
const imageHost = fc.constantFrom(
  'quay.io/acme', 'QUAY.IO/acme', 'docker.io/acme', 'index.docker.io/acme', 'acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com',
  'quay.io/acmecorp', 'ghcr.io/acme', 'library', 'localhost:5000/acme', 'proxy.example.com/proxy/my-app/quay.io/acme',
  'registry.example.com/my-app', 'Proxy.Example.com', '[fd00::1]:5000/acme',
);
const imageSuffix = fc.constantFrom('', ':1.0', ':latest', `@sha256:${'b'.repeat(64)}`, `:v2@sha256:${'c'.repeat(64)}`);
const validImage = fc.tuple(imageHost, repository, imageSuffix).map(([h, r, s]) => `${h}/${r}${s}`);

/** A valid reference changed a little: a character in, out or swapped, a case change, a long name. */
const nearValidImage = fc.tuple(validImage, fc.nat(), fc.constantFrom('insert', 'delete', 'upper', 'double', 'long', 'truncate'), fc.oneof(oddChar, fc.constantFrom(':', '@', '/', '.', ' ', 'A')))
  .map(([image, at, how, char]) => {
    const i = image.length === 0 ? 0 : at % image.length;
    switch (how) {
      case 'insert': return image.slice(0, i) + char + image.slice(i);
      case 'delete': return image.slice(0, i) + image.slice(i + 1);
      case 'upper': return image.toUpperCase();
      case 'double': return image.replace('/', '//');
      case 'long': return `${image.split(':')[0]}/${'n'.repeat(200 + (at % 100))}:1`;
      case 'truncate': return image.slice(0, i);
    }
  });

/** Image strings: mostly valid references of every kind the rule tells apart, then near misses, then noise. */
export const imageString = fc.oneof(
  { weight: 6, arbitrary: validImage },
  { weight: 3, arbitrary: nearValidImage },
  { weight: 1, arbitrary: fc.constantFrom('nginx', 'busybox:1.36', '', ' ', 'a//b', ':x', '@sha256:', 'quay.io/acme/') },
  { weight: 1, arbitrary: noisyString(30) },
);

// ---------------------------------------------------------------------------------------------
// JSON text that JSON.stringify cannot write

/** JSON text inserted as it is: nesting too deep to stringify, numbers out of range, duplicates. */
export class RawJson {
  readonly text: string;
  /** How fast-check shows it in a counterexample, instead of 100,000 brackets. */
  readonly label: string;
  constructor(text: string, label: string) {
    this.text = text;
    this.label = label;
  }
  [fc.toStringMethod](): string {
    return `raw(${this.label})`;
  }
}

/** An object written with its members in order, repeated and prototype-named keys included. */
export class JsonMembers {
  readonly members: ReadonlyArray<readonly [string, unknown]>;
  constructor(members: ReadonlyArray<readonly [string, unknown]>) {
    this.members = members;
  }
}

/** `[[[…]]]` nested `depth` deep. */
export function deepArray(depth: number): RawJson {
  return new RawJson('['.repeat(depth) + ']'.repeat(depth), `array ${depth} deep`);
}

/** JSON text of a value that may hold RawJson and JsonMembers; undefined members are left out, as JSON.stringify does. */
export function jsonText(value: unknown): string {
  const parts: string[] = [];
  const write = (v: unknown): void => {
    if (v instanceof RawJson) parts.push(v.text);
    else if (v instanceof JsonMembers) writeMembers(v.members);
    else if (Array.isArray(v)) {
      parts.push('[');
      v.forEach((item, i) => {
        if (i > 0) parts.push(',');
        write(item === undefined ? null : item);
      });
      parts.push(']');
    } else if (typeof v === 'object' && v !== null) writeMembers(Object.entries(v));
    else parts.push(JSON.stringify(v) ?? 'null');
  };
  const writeMembers = (members: ReadonlyArray<readonly [string, unknown]>): void => {
    parts.push('{');
    let first = true;
    for (const [key, member] of members) {
      if (member === undefined) continue;
      if (!first) parts.push(',');
      first = false;
      parts.push(JSON.stringify(key), ':');
      write(member);
    }
    parts.push('}');
  };
  write(value);
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// pullgate serve, in-process

const OPT_IN = { 'pullgate.dev/inject': 'enabled' };

export interface Served {
  port: number;
  metricsPort: number;
  /** PEM of the CA that signed the serving certificate. */
  ca: string;
  logs: CapturedLogs;
  stub: KubeStub;
  close(): Promise<void>;
}

/**
 * `pullgate serve` as serve.test.ts starts it (the example configuration, an in-memory API server
 * with served, unserved, opted-in and excluded namespaces), ready. Another replica holds the
 * leader Lease, so only admission talks to the API server.
 */
export async function startServed(bodyLimit: number): Promise<Served> {
  const dir = tempDir('pullgate-fuzz-');
  const tls = generateTls(dir.path);
  const stub = await startKubeStub(tls);
  let running: RunningPullgate | undefined;
  try {
    for (const ns of ['my-app', 'monitoring', 'not-served']) stub.addNamespace(ns);
    for (const ns of ['team-a', 'kube-system', 'pullgate']) stub.addNamespace(ns, OPT_IN);
    const now = new Date().toISOString();
    stub.leases.set(`pullgate/${DEFAULT_LEASE_NAME}`, { spec: { holderIdentity: 'another-replica', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
    const logs = captureLogs('info');
    const { configFile } = writeSetup(dir.path);
    running = await startPullgate({
      configFile,
      tls: { certFile: tls.certFile, keyFile: tls.keyFile },
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      ownNamespace: 'pullgate',
      kubeconfig: stub.writeKubeconfig(join(dir.path, 'kubeconfig')),
      bodyLimit,
      logger: logs.logger,
    });
    const { port, metricsPort } = running;
    await eventually('pullgate ready', async () => (await send(port, { path: '/readyz', ca: tls.caPem })).status === 200, 20_000);
    const started = running;
    return {
      port,
      metricsPort,
      ca: tls.caPem,
      logs,
      stub,
      close: async () => {
        await started.shutdown();
        await stub.close();
        dir.remove();
      },
    };
  } catch (err) {
    await running?.shutdown();
    await stub.close();
    dir.remove();
    throw err;
  }
}
