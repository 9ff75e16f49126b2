import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually } from '../support/eventually.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { ADDITIONAL_NAMESPACE, SECRET_NAME, proxied } from './support/scenario.ts';

const NS = ADDITIONAL_NAMESPACE;
const podSpec = (name: string, restartPolicy?: string) => ({
  ...(restartPolicy ? { restartPolicy } : {}),
  containers: [
    { name: 'app', image: `quay.io/acme/${name}:1` },
    { name: 'sidecar', image: 'busybox:1.36' },
  ],
});
const template = (name: string, restartPolicy?: string) => ({ metadata: { labels: { app: name } }, spec: podSpec(name, restartPolicy) });

const workloads = [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'deploy', namespace: NS }, spec: { replicas: 2, selector: { matchLabels: { app: 'deploy' } }, template: template('deploy') } },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'stateful', namespace: NS }, spec: { replicas: 1, serviceName: 'stateful', selector: { matchLabels: { app: 'stateful' } }, template: template('stateful') } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job', namespace: NS }, spec: { template: template('job', 'Never') } },
  // Every minute: the CronJob controller itself creates the Job, whose Pod then goes through admission.
  { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cron', namespace: NS }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: template('cron', 'Never') } } } },
];

type Pod = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }>; imagePullSecrets?: Array<{ name: string }> } };

async function podsOf(app: string, minimum: number): Promise<Pod[]> {
  const { client } = e2e();
  return eventually(`${minimum} Pod(s) of ${app}`, async () => {
    const list = await getJson<{ items: Pod[] }>(client, ['pods', '-n', NS, '-l', `app=${app}`]);
    return list.items.length >= minimum ? list.items : undefined;
  }, 100_000);
}

function expectMutated(pods: Pod[], app: string) {
  for (const pod of pods) {
    expect(pod.spec.containers.map((c) => c.image), pod.metadata.name).toEqual([proxied(`quay.io/acme/${app}:1`), 'busybox:1.36']);
    expect(pod.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);
    expect(JSON.parse(pod.metadata.annotations?.['pullgate.dev/original-images'] ?? '{}')).toEqual({ 'containers/app': `quay.io/acme/${app}:1` });
  }
}

describe.skipIf(unavailable)('Pods created by controllers', () => {
  it('are mutated for Deployment, StatefulSet, Job and a CronJob-triggered Job; the templates are not', async () => {
    const { client } = e2e();
    await client.kubectl(['apply', '-f', '-'], { input: workloads.map((w) => stringify(w)).join('---\n') });

    expectMutated(await podsOf('deploy', 2), 'deploy');
    expectMutated(await podsOf('stateful', 1), 'stateful');
    expectMutated(await podsOf('job', 1), 'job');
    expectMutated(await podsOf('cron', 1), 'cron');

    for (const [kind, name, path] of [['deployment', 'deploy', 'spec.template'], ['statefulset', 'stateful', 'spec.template'], ['job', 'job', 'spec.template'], ['cronjob', 'cron', 'spec.jobTemplate.spec.template']] as const) {
      const obj = await getJson(client, [kind, name, '-n', NS]);
      const tpl = path.split('.').reduce((o: any, k) => o[k], obj);
      expect(tpl.spec.containers[0].image, `${kind} template`).toBe(`quay.io/acme/${name}:1`);
      expect(tpl.spec.imagePullSecrets, `${kind} template`).toBeUndefined();
    }
    const cronJobs = await getJson<{ items: Array<{ metadata: { ownerReferences?: Array<{ kind: string }> } }> }>(client, ['jobs', '-n', NS]);
    expect(cronJobs.items.some((j) => j.metadata.ownerReferences?.[0]?.kind === 'CronJob'), 'a Job created by the CronJob controller').toBe(true);
  }, 180_000);
});
