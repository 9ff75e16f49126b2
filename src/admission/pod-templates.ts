/**
 * Where each Pod-bearing kind keeps its Pod (or Pod template): `metadata` + `spec` at that path
 * mutate exactly like a Pod. Used by `preview`, which sees manifests rather than admitted Pods.
 */
export const POD_PATHS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
});

export function podPathOf(kind: unknown): readonly string[] | undefined {
  return typeof kind === 'string' && Object.hasOwn(POD_PATHS, kind) ? POD_PATHS[kind] : undefined;
}
