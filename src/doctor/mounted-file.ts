import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { posix } from 'node:path';

/** Where a file a container reads comes from: a key of a ConfigMap or a Secret in the Pod's namespace. */
export interface MountedFile {
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  readonly key: string;
}

/**
 * The ConfigMap or Secret key behind `path` in `container`, from its volume mounts (the longest
 * mount path holding it, with subPath) and the volume's items; undefined when the file comes from
 * anything else.
 */
export function mountedFile(spec: V1PodSpec, container: V1Container, path: string): MountedFile | undefined {
  const file = posix.normalize(path);
  const mount = (container.volumeMounts ?? [])
    .filter((m) => file === m.mountPath || file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return undefined;
  const volume = (spec.volumes ?? []).find((v) => v.name === mount.name);
  const inVolume = posix.join(mount.subPath ?? '', posix.relative(mount.mountPath, file));
  const source = volume?.configMap
    ? { kind: 'ConfigMap' as const, name: volume.configMap.name, items: volume.configMap.items }
    : volume?.secret
      ? { kind: 'Secret' as const, name: volume.secret.secretName, items: volume.secret.items }
      : undefined;
  if (!source?.name || inVolume === '' || inVolume.startsWith('..')) return undefined;
  const key = source.items ? source.items.find((i) => posix.normalize(i.path) === inVolume)?.key : inVolume.includes('/') ? undefined : inVolume;
  return key === undefined ? undefined : { kind: source.kind, name: source.name, key };
}

/** The value of `--flag VALUE` or `--flag=VALUE` in a container's command line (args after command). */
export function flagValue(container: Pick<V1Container, 'command' | 'args'> | undefined, ...names: string[]): string | undefined {
  const argv = [...(container?.command ?? []), ...(container?.args ?? [])];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    for (const name of names) {
      if (arg === name && i + 1 < argv.length) return argv[i + 1];
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    }
  }
  return undefined;
}
