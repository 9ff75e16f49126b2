// AdmissionReview requests as the API server sends them.
import { randomUUID } from 'node:crypto';

export type ReviewVersion = 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1';

export interface ReviewOptions {
  uid?: string;
  apiVersion?: ReviewVersion;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  dryRun?: boolean;
  subResource?: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  oldObject?: unknown;
}

export function review(object: unknown, options: ReviewOptions = {}) {
  const namespace = options.namespace ?? 'my-app';
  const name = (object as { metadata?: { name?: string } } | undefined)?.metadata?.name ?? '';
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? randomUUID(),
      kind: options.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      resource: options.resource ?? { group: '', version: 'v1', resource: 'pods' },
      requestKind: options.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      requestResource: options.resource ?? { group: '', version: 'v1', resource: 'pods' },
      ...(options.subResource ? { subResource: options.subResource } : {}),
      name,
      namespace,
      operation: options.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      object,
      oldObject: options.oldObject ?? null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

export function pod(name: string, containers: Array<{ name: string; image: string }>, extra: { namespace?: string; labels?: Record<string, string> } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.namespace ?? 'my-app', labels: { app: name, ...extra.labels } },
    spec: { containers: containers.map((c) => ({ ...c, resources: {} })), restartPolicy: 'Always' },
  };
}
