// The benchmark's AdmissionReview: a realistic Pod from a ReplicaSet (3 containers, 1 init
// container, 2 private images, the pull secret already referenced), about 1.9 KB as sent.
import { review } from '../../test/support/reviews.ts';

export function benchReview(namespace: string): string {
  const object = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-7d4b9c6f5-',
      namespace,
      labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop', 'pod-template-hash': '7d4b9c6f5' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c6f5', uid: 'c3d4e5f6-0000-4000-8000-000000000001', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      initContainers: [{ name: 'migrate', image: 'quay.io/acme/migrate:1.4.0', args: ['--wait-for-db'], resources: { requests: { cpu: '50m', memory: '64Mi' } } }],
      containers: [
        { name: 'web', image: 'quay.io/acme/web:1.4.0', ports: [{ containerPort: 8080, protocol: 'TCP' }], env: [{ name: 'LOG_LEVEL', value: 'info' }], resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } } },
        { name: 'proxy', image: 'envoyproxy/envoy:v1.31.2', ports: [{ containerPort: 9901, protocol: 'TCP' }] },
        { name: 'metrics', image: 'prom/statsd-exporter:v0.26.0', ports: [{ containerPort: 9102, protocol: 'TCP' }] },
      ],
      imagePullSecrets: [{ name: 'my-app-registry' }],
      restartPolicy: 'Always',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
    },
  };
  return JSON.stringify(review(object, { namespace, uid: '705ab4f5-6393-11e8-b7cc-42010a800002' }));
}
