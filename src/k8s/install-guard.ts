import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { signalOptions, type ApiCallBudget } from './api-call-budget.ts';
import { apiCallError, statusOf } from './api-error.ts';

export interface InstallGuardOptions {
  kubeConfig: KubeConfig;
  budget: ApiCallBudget;
  /** The install guard's MutatingWebhookConfiguration (the chart's `<fullname>-install`). */
  name: string;
  /**
   * True once this replica serves: ready, and its own webhook configuration holds the CA that
   * verifies it. Checked every `checkMs` until then.
   */
  serving: () => boolean;
  logger: Logger;
  checkMs?: number;
  /** Backoff after a failed delete. */
  retryMs?: { first: number; max: number };
  /** How often a replica that serves deletes it again, should something have created it anew. */
  recheckMs?: number;
}

export interface InstallGuard {
  start(): void;
  stop(): void;
}

/**
 * Removes the chart's install guard once this replica serves. The guard, created before anything
 * else of a first install, refuses every Pod pullgate must rewrite until then; deleting it is what
 * lets them through, now to pullgate. Every replica does it (a 404 means another one did). It
 * keeps deleting it every `recheckMs` while it serves, 404 after 404: a tool that renders the chart
 * without a cluster runs the hook again on every sync (`helm template` cannot see that pullgate is
 * installed already), and an object refusing Pods must not outlive that by more than a moment.
 */
export function installGuard(options: InstallGuardOptions): InstallGuard {
  const { name, logger, budget } = options;
  const api = options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const checkMs = options.checkMs ?? 1_000;
  const retry = options.retryMs ?? { first: 1_000, max: 60_000 };
  const recheckMs = options.recheckMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let delay = retry.first;
  let failing = false;
  let settled = false;

  const later = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void step(), ms);
    timer.unref();
  };

  async function step(): Promise<void> {
    if (stopped) return;
    if (!options.serving()) return later(checkMs);
    try {
      await budget.run((signal) => api.deleteMutatingWebhookConfiguration({ name }, signalOptions(signal)));
      logger.info({ installGuard: name }, 'install guard deleted: pullgate serves, Pods that need it reach it now');
    } catch (err) {
      if (statusOf(err) !== 404) {
        // Logged once per run of failures, not at every retry.
        if (!failing) logger.error({ installGuard: name, err: apiCallError(`deleting webhook configuration ${name}`, err).message, retryInMs: delay }, 'cannot delete the install guard; Pods that need pullgate are refused until it is gone; retrying');
        failing = true;
        later(delay);
        delay = Math.min(delay * 2, retry.max);
        return;
      }
      if (!settled) logger.info({ installGuard: name }, 'install guard already gone');
    }
    failing = false;
    settled = true;
    delay = retry.first;
    later(recheckMs);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      void step();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
