import { ORIGINAL_IMAGES_ANNOTATION } from '../../admission/labels.ts';
import { result, type CheckResult } from '../check.ts';
import type { ProbeFacts } from '../facts.ts';

export interface ProbeExpectation {
  /** The probe's image as pullgate rewrites it. */
  readonly image: string;
  readonly pullSecretName: string;
}

/**
 * A server-side dry run of a Pod with a private image, in a namespace in scope, came back
 * rewritten and holding the pull secret. If not, tells apart a webhook never called from one that
 * failed or answered wrongly.
 */
export function checkProbe(facts: ProbeFacts, expected: ProbeExpectation | undefined): CheckResult {
  const { outcome } = facts;
  if (outcome.kind === 'skipped') return result('probe', 'warn', `end-to-end probe not run: ${outcome.reason}`);
  const pod = `dry-run Pod ${facts.namespace}/${facts.podName} with image ${facts.image}`;
  if (outcome.kind === 'refused') {
    const message = outcome.message;
    if (/failed calling webhook/i.test(message)) {
      const tls = /x509|certificate/i.test(message);
      return result(
        'probe',
        'fail',
        `the API server called the webhook for the ${pod}, and the call failed`,
        [message],
        tls
          ? "the API server does not trust pullgate's certificate: see ca-bundle and serving-certificate above"
          : 'check that pullgate is running and ready and that the API server can reach its Service (NetworkPolicy, Service endpoints, port 443 to 8443)',
      );
    }
    if (outcome.status === 403 && !/admission webhook/i.test(message)) {
      return result('probe', 'warn', `end-to-end probe not run: your kubeconfig may not create Pods in ${facts.namespace}`, [message], 'run doctor with credentials that may create Pods (a dry run stores nothing)');
    }
    return result('probe', 'fail', `the ${pod} was refused`, [message], 'read the message: a webhook or policy refused the Pod');
  }
  if (!expected) return result('probe', 'warn', `the ${pod} was admitted; not judged, the configuration is not usable`);
  const rewritten = outcome.images.every((image) => image === expected.image);
  const hasSecret = outcome.imagePullSecrets.includes(expected.pullSecretName);
  const fromPullgate = outcome.warnings.filter((w) => w.startsWith('pullgate'));
  if (rewritten && hasSecret) {
    const summary = `the ${pod} came back rewritten to ${expected.image}, with pull secret ${expected.pullSecretName}`;
    // Rewritten, yet pullgate warns (an expired license, a pull secret it could not create): every Pod gets these.
    if (fromPullgate.length > 0) return result('probe', 'warn', `${summary}, but pullgate warns about it`, fromPullgate, "act on pullgate's warnings: each says what is wrong");
    return result('probe', 'ok', summary);
  }
  const changed = outcome.images.some((image) => image !== facts.image);
  const touched = changed || ORIGINAL_IMAGES_ANNOTATION in outcome.annotations || fromPullgate.length > 0;
  const found = [
    `image came back as ${outcome.images.join(', ') || 'nothing'}, expected ${expected.image}`,
    `imagePullSecrets: ${outcome.imagePullSecrets.join(', ') || 'none'}, expected ${expected.pullSecretName}`,
    ...outcome.warnings.map((w) => `API server warning: ${w}`),
  ];
  if (touched) {
    return result('probe', 'fail', `the webhook was called for the ${pod} but did not rewrite it as the configuration says`, found, 'pullgate runs with another configuration than the one checked: compare its ConfigMap with the running Pods (restart them after a change)');
  }
  return result(
    'probe',
    'fail',
    `the ${pod} came back unchanged: the webhook was not called, or its failure was ignored`,
    [...found, 'nothing in the answer shows pullgate saw it (no pullgate warning, no pullgate.dev/original-images annotation)'],
    `see webhook-configuration above (selectors and match conditions must select namespace ${facts.namespace}); with failurePolicy Ignore a failed call admits the Pod unchanged: look for ${facts.podName} in pullgate's log and for "failed calling webhook" in the API server's`,
  );
}
