import { randomBytes } from 'node:crypto';
import { ApiException, Observable, type ConfigurationOptions, type ResponseContext, type V1Pod } from '@kubernetes/client-node';
import { signalOptions } from '../k8s/api-call-budget.ts';
import { apiCallError, statusOf } from '../k8s/api-error.ts';
import { credentialForms, redactCredential } from '../util/redact.ts';
import type { Api } from './doctor-api.ts';
import type { InstallationFacts, ProbeFacts } from './facts.ts';
import { warningTexts } from './warnings.ts';

/** The API server waits on a webhook for up to 30 s (timeoutSeconds' maximum): the probe outlasts it, to hear how the call ended. */
const PROBE_DEADLINE_MS = 35_000;

/** The message of a refusal's Status body; about the probe Pod, which holds nothing secret. */
function refusalMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (typeof body?.message === 'string') return body.message;
    } catch {
      // Not a Status: described below without the body.
    }
  }
  return apiCallError('creating the probe Pod', err).message;
}

/** A server-side dry run of a Pod with an image on the first private registry, in a namespace in scope. */
export async function probe(api: Api, inst: InstallationFacts, served: string[], configured: string[], read: string[]): Promise<ProbeFacts> {
  if (!inst.config) return { outcome: { kind: 'skipped', reason: 'the configuration is not usable' } };
  const namespace = configured[0] ?? served[0];
  if (namespace === undefined) return { outcome: { kind: 'skipped', reason: 'no namespace in scope exists' } };
  const registry = inst.config.privateRegistries[0]!;
  const image = [registry.host, ...registry.pathSegments, 'pullgate-doctor-probe:1'].join('/');
  const podName = `pullgate-doctor-probe-${randomBytes(4).toString('hex')}`;
  read.push(`a server-side dry run of Pod ${namespace}/${podName} (nothing is stored)`);
  // Meets the restricted Pod Security Standard, so only the webhook decides what comes back.
  const body: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName, namespace, labels: { 'app.kubernetes.io/name': 'pullgate-doctor-probe' } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'probe', image, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  };
  let warningHeader: string | undefined;
  const captureWarnings: ConfigurationOptions['middleware'] = [
    {
      pre: (context) => new Observable(Promise.resolve(context)),
      post: (response: ResponseContext) => {
        warningHeader = response.headers['warning'];
        return new Observable(Promise.resolve(response));
      },
    },
  ];
  try {
    const pod = await api.budget.run((signal) => {
      const options = signalOptions(signal);
      return api.core.createNamespacedPod({ namespace, body, dryRun: 'All' }, { ...options, middleware: [...(options.middleware ?? []), ...(captureWarnings ?? [])] });
    }, PROBE_DEADLINE_MS);
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    return {
      namespace,
      podName,
      image,
      outcome: {
        kind: 'admitted',
        images: containers.map((c) => c.image ?? ''),
        imagePullSecrets: (pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? ''),
        annotations: pod.metadata?.annotations ?? {},
        warnings: warningTexts(warningHeader),
      },
    };
  } catch (err) {
    const forms = inst.license ? credentialForms('', inst.license.licenseID) : [];
    return { namespace, podName, image, outcome: { kind: 'refused', ...(statusOf(err) !== undefined ? { status: statusOf(err)! } : {}), message: redactCredential(refusalMessage(err), forms) } };
  }
}
