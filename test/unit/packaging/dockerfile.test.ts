// What the container image relies on, checked without a Docker engine: the Node major it runs,
// the files it copies, the packages dist/ needs after `npm prune --omit=dev`, the start command
// run exactly as ENTRYPOINT + CMD, the unprivileged user it runs as, and the Deployment that
// starts it.
import { chmodSync, cpSync, existsSync, globSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { delimiter, dirname, join, posix, relative, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../support/run.ts';
import { ROOT, ensureBuilt } from '../helpers/cli.ts';
import { licenseYaml, tempDir } from '../helpers/fixtures.ts';

// The CLI tests spawn Node (about a second each on a busy two-core machine); the build may run first.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 });

// ---------------------------------------------------------------------------------------------
// The Dockerfile, parsed: instructions with continuation lines joined and comments dropped.

interface Instruction {
  keyword: string;
  /** Everything after the keyword. */
  rest: string;
  line: number;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      line = line.trimEnd().slice(0, -1) + ' ' + lines[++i]!;
    }
    const match = /^\s*(\w+)\s+(.*)$/s.exec(line);
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(line)}`);
    out.push({ keyword: match[1]!.toUpperCase(), rest: match[2]!.trim(), line: start + 1 });
  }
  return out;
}

/** Splits an instruction's arguments: exec (JSON array) form, or shell form on whitespace; `--flag=value` options apart. */
function args(instruction: Instruction): { flags: Record<string, string>; values: string[]; execForm: boolean } {
  let rest = instruction.rest;
  const flags: Record<string, string> = {};
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    flags[m[1]!] = m[2]!;
    rest = rest.slice(m[0].length);
  }
  if (rest.startsWith('[')) {
    const parsed: unknown = JSON.parse(rest);
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) throw new Error(`line ${instruction.line}: not a JSON string array`);
    return { flags, values: parsed, execForm: true };
  }
  return { flags, values: rest.split(/\s+/), execForm: false };
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean }>;
};

/** The stages: FROM image [AS name] and the instructions up to the next FROM. */
const stages = (() => {
  const result: Array<{ image: string; name?: string; instructions: Instruction[] }> = [];
  for (const instruction of dockerfile) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = args(instruction).values;
      result.push({ image: image!, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else {
      if (result.length === 0) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before FROM`);
      result.at(-1)!.instructions.push(instruction);
    }
  }
  return result;
})();
const finalStage = stages.at(-1)!;

/** The last value of an instruction in the final stage (ENTRYPOINT, CMD, USER and WORKDIR are not inherited from the build stage). */
function finalInstruction(keyword: string): Instruction {
  const found = finalStage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!found) throw new Error(`the final stage of the Dockerfile has no ${keyword}`);
  return found;
}

const entrypoint = args(finalInstruction('ENTRYPOINT'));
const cmd = args(finalInstruction('CMD'));
const [imageUid, imageGid] = finalInstruction('USER').rest.split(':').map(Number) as [number, number | undefined];

/** The value of `--name VALUE` or `--name=VALUE` in an argument list. */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i]!.startsWith(`${name}=`)) return argv[i]!.slice(name.length + 1);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Versions: `>=A <B`, `^A`, `A.x` and exact versions are enough for engines.node; anything else
// fails the test loudly rather than being misread.

function versionTuple(v: string): [number, number, number] {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(v.trim());
  if (!m) throw new Error(`unsupported version ${JSON.stringify(v)}`);
  const n = (s: string | undefined) => (s === undefined || s === 'x' || s === '*' ? 0 : Number(s));
  return [n(m[1]), n(m[2]), n(m[3])];
}

function compare(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function satisfies(version: string, range: string): boolean {
  const v = versionTuple(version);
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .every((comparator) => {
        const m = /^(>=|<=|>|<|=|\^|~)?(.+)$/.exec(comparator)!;
        const bound = versionTuple(m[2]!);
        const c = compare(v, bound);
        switch (m[1]) {
          case '>=':
            return c >= 0;
          case '<=':
            return c <= 0;
          case '>':
            return c > 0;
          case '<':
            return c < 0;
          case '^':
            return c >= 0 && v[0] === bound[0];
          case '~':
            return c >= 0 && v[0] === bound[0] && v[1] === bound[1];
          default:
            // `24`, `24.x`, `=24.21.0`: every part given must match.
            return m[2]!.split('.').every((part, i) => part === 'x' || part === '*' || Number(part) === v[i]);
        }
      }),
  );
}

const major = (version: string) => versionTuple(version)[0];

// ---------------------------------------------------------------------------------------------
// Running the shipped CLI.

/** The environment of the image: its ENV instructions, and PATH leading to this Node 24. */
function imageEnv(home: string): Record<string, string> {
  const env: Record<string, string> = { PATH: [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(delimiter), HOME: home };
  for (const i of finalStage.instructions.filter((x) => x.keyword === 'ENV')) {
    const m = /^([\w.-]+)[= ](.*)$/.exec(i.rest);
    if (!m) throw new Error(`Dockerfile line ${i.line}: cannot parse ENV`);
    env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** ENTRYPOINT + `argv`, with the entrypoint's node (distroless: /nodejs/bin/node) being this Node 24, the same major. */
function entrypointCommand(argv: string[]): { file: string; argv: string[] } {
  expect(entrypoint.execForm, 'ENTRYPOINT in exec form, so signals reach node (and the image has no shell)').toBe(true);
  const [program, ...rest] = entrypoint.values;
  expect(program).toBe('/nodejs/bin/node');
  return { file: process.execPath, argv: [...rest, ...argv] };
}

// ---------------------------------------------------------------------------------------------

describe('Dockerfile: Node.js version', () => {
  const runtimeMajor = major(process.versions.node);

  it('builds on a node:<major> image and runs on distroless nodejs<major>, the major of the test runtime, the pinned node devDependency and engines.node', () => {
    const external = stages.filter((s) => !stages.some((other) => other.name === s.image));
    expect(external.length).toBeGreaterThan(1);
    for (const stage of external.slice(0, -1)) {
      const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[.-].*)?(?:@sha256:[0-9a-f]{64})?$/.exec(stage.image);
      expect(m, `FROM ${stage.image} is a node:<major> image`).not.toBeNull();
      expect(Number(m![1]), `FROM ${stage.image}`).toBe(runtimeMajor);
    }
    // The runtime: no shell, no package manager; only node and what it links.
    const runtime = /^gcr\.io\/distroless\/nodejs(\d+)-debian\d+(?::nonroot)?(?:@sha256:[0-9a-f]{64})?$/.exec(finalStage.image);
    expect(runtime, `FROM ${finalStage.image} is a distroless nodejs<major> image`).not.toBeNull();
    expect(Number(runtime![1]), `FROM ${finalStage.image}`).toBe(runtimeMajor);
    expect(major(pkg.devDependencies.node!), 'package.json devDependencies.node').toBe(runtimeMajor);
    expect(major(lock.packages['node_modules/node']!.version!), 'package-lock.json node_modules/node').toBe(runtimeMajor);
  });

  it('engines.node admits exactly that major', () => {
    expect(satisfies(process.versions.node, pkg.engines.node)).toBe(true);
    expect(satisfies(pkg.devDependencies.node!, pkg.engines.node)).toBe(true);
    expect(satisfies(`${runtimeMajor}.0.0`, pkg.engines.node)).toBe(true);
    expect(satisfies(`${runtimeMajor - 1}.99.99`, pkg.engines.node)).toBe(false);
    expect(satisfies(`${runtimeMajor + 1}.0.0`, pkg.engines.node)).toBe(false);
  });
});

describe('Dockerfile: build inputs and outputs', () => {
  it('COPYs only files that exist in the repository', () => {
    const copies = dockerfile.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map(args);
    const fromContext = copies.filter((c) => c.flags.from === undefined);
    expect(fromContext.length).toBeGreaterThan(0);
    const sources = fromContext.flatMap((c) => c.values.slice(0, -1));
    for (const source of sources) {
      const matches = /[*?[]/.test(source) ? globSync(source, { cwd: ROOT }) : existsSync(join(ROOT, source)) ? [source] : [];
      expect(matches, `COPY source ${source}`).not.toEqual([]);
    }
    // What the build stage needs: the manifests for `npm ci`, the TypeScript configs and the sources.
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) {
      expect(sources.some((s) => s === needed || globSync(s, { cwd: ROOT }).includes(needed)), `${needed} is copied`).toBe(true);
    }
    // No .dockerignore may hide one of them from the build context.
    const ignore = join(ROOT, '.dockerignore');
    if (existsSync(ignore)) {
      const patterns = readFileSync(ignore, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
      for (const source of sources) expect(patterns.filter((p) => posix.matchesGlob(source, p)), `.dockerignore hides ${source}`).toEqual([]);
    }
  });

  it('copies into the final image what the build stage produces: package.json, node_modules and the dist/ the build writes', () => {
    const build = stages.find((s) => s.name !== undefined && finalStage.instructions.some((i) => i.keyword === 'COPY' && args(i).flags.from === s.name));
    expect(build, 'a named build stage the final stage copies from').toBeDefined();
    const copied = finalStage.instructions.filter((i) => i.keyword === 'COPY').map(args).flatMap((c) => c.values.slice(0, -1).map((v) => posix.basename(v)));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'node_modules', 'dist']));
    const tsconfigBuild = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    expect(posix.normalize(tsconfigBuild.compilerOptions.outDir)).toBe('dist');
    expect(build!.instructions.some((i) => i.keyword === 'RUN' && /npm run build\b/.test(i.rest) && /npm prune --omit=dev\b/.test(i.rest))).toBe(true);
    // ENTRYPOINT runs the file package.json publishes as the `pullgate` binary.
    expect(posix.normalize(entrypoint.values[1]!)).toBe(posix.normalize(pkg.bin.pullgate!));
  });

  describe('dist/', () => {
    const imports = new Map<string, Set<string>>(); // specifier -> files importing it
    let files: string[] = [];

    beforeAll(() => {
      ensureBuilt();
      files = globSync('dist/**/*.js', { cwd: ROOT });
      // Static imports and re-exports (`from '…'`), bare `import '…'`, dynamic `import('…')` and `require('…')`.
      const patterns = [/\bfrom\s*(['"])([^'"]+)\1/g, /\bimport\s*(['"])([^'"]+)\1/g, /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g, /\brequire\s*\(\s*(['"])([^'"]+)\1\s*\)/g];
      for (const file of files) {
        const text = readFileSync(join(ROOT, file), 'utf8');
        for (const pattern of patterns) {
          for (const m of text.matchAll(pattern)) {
            const specifier = m[2]!;
            if (!imports.has(specifier)) imports.set(specifier, new Set());
            imports.get(specifier)!.add(file);
          }
        }
      }
    });

    const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
    const bare = () => [...imports.keys()].filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !isBuiltin(s));

    it('imports only packages listed in dependencies, none of which npm prune --omit=dev removes', () => {
      expect(files).toContain('dist/main.js');
      // The scan must see the imports it is meant to check.
      expect(bare().map(packageName)).toEqual(expect.arrayContaining(['commander', 'pino', 'yaml']));
      for (const specifier of bare()) {
        const name = packageName(specifier);
        const where = [...imports.get(specifier)!].join(', ');
        expect(Object.keys(pkg.dependencies), `${specifier} (imported by ${where}) is a dependency`).toContain(name);
        expect(Object.keys(pkg.devDependencies), `${specifier} (imported by ${where}) is not also a devDependency`).not.toContain(name);
        const locked = lock.packages[`node_modules/${name}`];
        expect(locked, `package-lock.json has node_modules/${name}`).toBeDefined();
        expect(locked!.dev ?? false, `${name} survives npm prune --omit=dev`).toBe(false);
      }
    });

    it('resolves every relative import to an emitted .js file, and imports nothing outside dist/', () => {
      const relativeImports = [...imports.entries()].filter(([s]) => s.startsWith('.') || s.startsWith('/'));
      expect(relativeImports.length).toBeGreaterThan(0);
      for (const [specifier, importers] of relativeImports) {
        for (const importer of importers) {
          const target = resolve(ROOT, dirname(importer), specifier);
          expect(target.endsWith('.js') || target.endsWith('.json'), `${importer} imports ${specifier}`).toBe(true);
          expect(existsSync(target), `${importer} imports ${specifier}`).toBe(true);
          expect(relative(join(ROOT, 'dist'), target).startsWith('..'), `${importer} imports ${specifier} outside dist/`).toBe(false);
        }
      }
    });

    it('is world-readable (the image runs as a user that owns none of it)', () => {
      const unreadable: string[] = [];
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          const mode = statSync(path).mode;
          if (entry.isDirectory()) {
            if ((mode & 0o005) !== 0o005) unreadable.push(`${path} (${(mode & 0o777).toString(8)})`);
            walk(path);
          } else if ((mode & 0o004) === 0) unreadable.push(`${path} (${(mode & 0o777).toString(8)})`);
        }
      };
      walk(join(ROOT, 'dist'));
      expect(files.length).toBeGreaterThan(0);
      expect(unreadable).toEqual([]);
    });
  });
});

describe('Dockerfile: the start command', () => {
  beforeAll(() => ensureBuilt());

  // WORKDIR /app holds package.json, dist and node_modules: the repository root has all three.
  const workdir = () => {
    expect(finalInstruction('WORKDIR').rest).toBe('/app');
    return ROOT;
  };

  it('`--help` and `serve --help` run as the ENTRYPOINT does, from the working directory', async () => {
    const help = entrypointCommand(['--help']);
    const top = await run(help.file, help.argv, { cwd: workdir(), env: imageEnv('/tmp') });
    expect(top.stderr).toBe('');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: pullgate /);
    expect(top.stdout).toMatch(/^\s+serve\b/m);
    expect(top.stdout).toMatch(/^\s+preview\b/m);

    const serveHelp = entrypointCommand(['serve', '--help']);
    const serve = await run(serveHelp.file, serveHelp.argv, { cwd: workdir(), env: imageEnv('/tmp') });
    expect(serve.code).toBe(0);
    expect(serve.stdout).toMatch(/^Usage: pullgate serve /);
    // Every flag the CMD passes is one serve knows.
    expect(cmd.values[0]).toBe('serve');
    for (const flag of cmd.values.filter((v) => v.startsWith('--'))) expect(serve.stdout).toContain(flag.split('=')[0]);
  });

  it('`--version` prints the version of package.json', async () => {
    const version = entrypointCommand(['--version']);
    const result = await run(version.file, version.argv, { cwd: workdir(), env: imageEnv('/tmp') });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('ENTRYPOINT + CMD parses, and refuses to start without the configuration the Deployment mounts', async () => {
    const configPath = flagValue(cmd.values, '--config');
    expect(configPath).toBeDefined();
    // Only meaningful where that path does not exist (it never does outside a container).
    expect(existsSync(configPath!)).toBe(false);
    const start = entrypointCommand(cmd.values);
    const result = await run(start.file, start.argv, { cwd: workdir(), env: imageEnv('/tmp') });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(configPath);
    expect(result.stderr).toContain('ENOENT');
    expect(result.stderr).not.toMatch(/unknown option|error: /);
  });
});

describe(`Dockerfile: USER ${imageUid}`, () => {
  it('is a numeric uid:gid (runAsNonRoot can only verify a numeric user), not root', () => {
    expect(Number.isInteger(imageUid)).toBe(true);
    expect(Number.isInteger(imageGid)).toBe(true);
    expect(imageUid).not.toBe(0);
  });

  // Running as another user needs root and setpriv (util-linux) or runuser with a passwd entry.
  const asUser: { skip?: string; prefix?: string[] } = (() => {
    if (process.getuid?.() !== 0) return { skip: `running as another user needs root; this is uid ${process.getuid?.()}` };
    const onPath = (name: string) =>
      ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(delimiter)].map((d) => join(d, name)).find((p) => existsSync(p));
    const setpriv = onPath('setpriv');
    if (setpriv) {
      return { prefix: [setpriv, `--reuid=${imageUid}`, `--regid=${imageGid}`, '--clear-groups', '--'] };
    }
    const runuser = onPath('runuser');
    const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8') : '';
    const user = passwd.split('\n').map((l) => l.split(':')).find((f) => f[2] === String(imageUid) && f[3] === String(imageGid))?.[0];
    if (runuser && user) return { prefix: [runuser, '-u', user, '--'] };
    return { skip: `neither setpriv nor runuser (with a passwd entry for ${imageUid}:${imageGid}) is installed` };
  })();
  // A root CI runner must prove the image's user can run pullgate: a missing tool there would hide
  // the requirement. A non-root runner cannot switch users at all; it skips, saying so.
  if (asUser.skip && process.env.CI === 'true' && process.getuid?.() === 0) throw new Error(`CI=true: cannot check the image's non-root user: ${asUser.skip}`);

  describe(`runs as uid ${imageUid}`, () => {
    // An /app like the image's: root-owned package.json and dist/ (0755 dirs, 0644 files), node_modules.
    let app: ReturnType<typeof tempDir>;
    let data: ReturnType<typeof tempDir>;

    beforeAll(() => {
      if (asUser.skip) return;
      ensureBuilt();
      app = tempDir('pullgate-app-');
      chmodSync(app.path, 0o755);
      cpSync(join(ROOT, 'package.json'), join(app.path, 'package.json'));
      cpSync(join(ROOT, 'dist'), join(app.path, 'dist'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(app.path, 'node_modules'));
      data = tempDir('pullgate-mounts-');
      chmodSync(data.path, 0o755);
    });
    afterAll(() => {
      app?.remove();
      data?.remove();
    });

    const runAs = (argv: string[], stdin?: string) => {
      const start = entrypointCommand(argv);
      // HOME is the read-only app directory: nothing may need a writable home.
      return run(asUser.prefix![0]!, [...asUser.prefix!.slice(1), start.file, ...start.argv], { cwd: app.path, env: imageEnv(app.path), ...(stdin !== undefined ? { input: stdin } : {}) });
    };

    /** The shipped ConfigMap's config.yaml with the license at `licenseFile` (mounted Secrets are 0644 by default). */
    function writeMounts(licenseMode: number): { configFile: string; config: { proxyDomain: string; appSlug?: string; privateRegistries: string[]; pullSecret?: { name?: string } } } {
      const configMap = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'config.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string; data?: Record<string, string> }).find((d) => d.kind === 'ConfigMap');
      const config = parse(configMap!.data!['config.yaml']!) as { proxyDomain: string; appSlug?: string; privateRegistries: string[]; license: { file: string }; pullSecret?: { name?: string } };
      mkdirSync(join(data.path, 'config'), { recursive: true, mode: 0o755 });
      mkdirSync(join(data.path, 'license'), { recursive: true, mode: 0o755 });
      config.license.file = join(data.path, 'license', 'license.yaml');
      writeFileSync(config.license.file, licenseYaml({ appSlug: config.appSlug ?? 'my-app' }), { mode: licenseMode });
      chmodSync(config.license.file, licenseMode);
      const configFile = join(data.path, 'config', 'config.yaml');
      writeFileSync(configFile, stringify(config), { mode: 0o644 });
      return { configFile, config };
    }

    it(`drops to uid ${imageUid}, gid ${imageGid} and no supplementary groups`, async ({ skip }) => {
      if (asUser.skip) skip(asUser.skip);
      const result = await runAs(['--version']);
      expect(result.code).toBe(0);
      const whoami = await run(asUser.prefix![0]!, [...asUser.prefix!.slice(1), process.execPath, '-p', 'JSON.stringify([process.getuid(), process.getgid(), process.getgroups()])'], { cwd: app.path, env: imageEnv(app.path) });
      expect(whoami.stderr).toBe('');
      const [uid, gid, groups] = JSON.parse(whoami.stdout) as [number, number, number[]];
      expect(uid).toBe(imageUid);
      expect(gid).toBe(imageGid);
      expect(groups.filter((g) => g !== imageGid)).toEqual([]);
    });

    it('previews with the shipped configuration and a mounted license it can read', async ({ skip }) => {
      if (asUser.skip) skip(asUser.skip);
      const { configFile, config } = writeMounts(0o644);
      const registry = config.privateRegistries[0]!;
      const manifest = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: my-app\nspec:\n  containers:\n    - name: web\n      image: ${registry}/web:1.0\n`;
      const result = await runAs(['preview', '--config', configFile, '-f', '-'], manifest);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const docs = parseAllDocuments(result.stdout).map((d) => d.toJS() as { kind: string; type?: string; metadata: { name: string }; spec?: { containers: Array<{ image: string }>; imagePullSecrets?: Array<{ name: string }> } });
      const podOut = docs.find((d) => d.kind === 'Pod')!;
      expect(podOut.spec!.containers[0]!.image).toBe(`${config.proxyDomain}/proxy/${config.appSlug ?? 'my-app'}/${registry}/web:1.0`);
      const secret = docs.find((d) => d.kind === 'Secret');
      expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
      const secretName = config.pullSecret?.name ?? `${config.appSlug ?? 'my-app'}-registry`;
      expect(secret?.metadata.name).toBe(secretName);
      expect(podOut.spec!.imagePullSecrets).toEqual([{ name: secretName }]);
    });

    it('cannot read a root-only license, and says so (the control for the test above)', async ({ skip }) => {
      if (asUser.skip) skip(asUser.skip);
      const { configFile } = writeMounts(0o600);
      const result = await runAs(['preview', '--config', configFile, '-f', '-'], '');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EACCES');
      expect(result.stdout).toBe('');
    });
  });
});

describe('deploy/deployment.yaml runs the image as the Dockerfile intends', () => {
  type Mount = { name: string; mountPath: string; readOnly?: boolean };
  type Volume = { name: string; configMap?: { name: string }; secret?: { secretName: string } };
  interface SecurityContext {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
  }
  interface Container {
    name: string;
    command?: string[];
    args?: string[];
    securityContext?: SecurityContext;
    volumeMounts?: Mount[];
    ports?: Array<{ containerPort: number }>;
  }
  interface Resource {
    kind: string;
    metadata: { name: string };
    spec: { template: { spec: { securityContext?: SecurityContext; containers: Container[]; volumes?: Volume[] } }; secretName?: string };
    data?: Record<string, string>;
  }

  const resources = globSync('deploy/*.yaml', { cwd: ROOT }).flatMap((file) =>
    parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => d.toJS() as Resource),
  );
  /** serve's defaults, as `serve --help` prints them: `--tls-cert-file <file> … (default: "…")`. */
  const serveDefaults = new Map<string, string>();
  beforeAll(async () => {
    ensureBuilt();
    const help = entrypointCommand(['serve', '--help']);
    const result = await run(help.file, help.argv, { cwd: ROOT, env: imageEnv('/tmp') });
    for (const m of result.stdout.replace(/\n\s+(?![\s-])/g, ' ').matchAll(/(--[\w-]+) <[^>]+>.*?\(default: "?([^")]+)"?\)/g)) serveDefaults.set(m[1]!, m[2]!);
    expect(serveDefaults.get('--tls-cert-file')).toBeDefined();
  });

  const deployment = resources.find((r) => r.kind === 'Deployment' && r.metadata.name === 'pullgate')!;
  const podSpec = deployment.spec.template.spec;
  const container = podSpec.containers.find((c) => c.name === 'pullgate')!;

  /** The mount whose path contains `file`, the deepest if several do. */
  function mountFor(file: string): { mount: Mount; volume: Volume } | undefined {
    const mount = (container.volumeMounts ?? [])
      .filter((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const volume = mount && podSpec.volumes?.find((v) => v.name === mount.name);
    return mount && volume ? { mount, volume } : undefined;
  }

  it(`runs as uid ${imageUid}, gid ${imageGid}, non-root`, () => {
    expect(deployment).toBeDefined();
    const effective = { ...podSpec.securityContext, ...container.securityContext };
    expect(effective.runAsUser).toBe(imageUid);
    expect(effective.runAsGroup).toBe(imageGid);
    expect(effective.runAsNonRoot).toBe(true);
  });

  it('keeps the ENTRYPOINT and passes a --config that a mounted ConfigMap provides', () => {
    // `command` would replace the ENTRYPOINT; only `args` (replacing CMD) is expected.
    expect(container.command).toBeUndefined();
    const argv = container.args ?? cmd.values;
    expect(argv[0]).toBe('serve');
    const configPath = flagValue(argv, '--config') ?? flagValue(argv, '-c');
    expect(configPath, 'the Deployment passes --config').toBeDefined();

    const provided = mountFor(configPath!);
    expect(provided, `a volume is mounted over ${configPath}`).toBeDefined();
    expect(provided!.volume.configMap, `${configPath} comes from a ConfigMap`).toBeDefined();
    const configMap = resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === provided!.volume.configMap!.name);
    expect(configMap, `ConfigMap ${provided!.volume.configMap!.name} is in deploy/`).toBeDefined();
    const key = posix.relative(provided!.mount.mountPath, configPath!);
    expect(Object.keys(configMap!.data ?? {}), `ConfigMap key for ${configPath}`).toContain(key);

    // The files that configuration and serve's TLS defaults point at are mounted too.
    const config = parse(configMap!.data![key]!) as { license: { file: string } };
    const license = mountFor(config.license.file);
    expect(license?.volume.secret, `${config.license.file} comes from a Secret`).toBeDefined();
    // Self-managed TLS (deploy/'s default) reads no certificate file: its CA comes from a Secret it reads through the API.
    if (flagValue(argv, '--tls') === 'self-managed') {
      expect(flagValue(argv, '--tls-ca-secret'), 'the CA Secret is named').toBeDefined();
      return;
    }
    for (const flag of ['--tls-cert-file', '--tls-key-file']) {
      const file = flagValue(argv, flag) ?? serveDefaults.get(flag);
      expect(file, `${flag} is passed or has a default`).toBeDefined();
      const tls = mountFor(file!);
      expect(tls?.volume.secret, `${file} comes from a Secret`).toBeDefined();
      const certificate = resources.find((r) => r.kind === 'Certificate' && r.spec.secretName === tls!.volume.secret!.secretName);
      expect(certificate, `a cert-manager Certificate writes Secret ${tls!.volume.secret!.secretName}`).toBeDefined();
    }
  });

  it('exposes the ports the Dockerfile EXPOSEs and serve listens on by default', () => {
    const exposed = finalStage.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => args(i).values.map((p) => Number(p.split('/')[0])));
    const sorted = (ports: number[]) => [...ports].sort((x, y) => x - y);
    expect(sorted(exposed)).toEqual(sorted((container.ports ?? []).map((p) => p.containerPort)));
    expect(sorted(exposed)).toEqual(sorted([Number(serveDefaults.get('--port')), Number(serveDefaults.get('--metrics-port'))]));
  });
});
