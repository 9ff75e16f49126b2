import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type ConfigurationOptions, type KubeConfig } from '@kubernetes/client-node';
import { ApiCallBudget, signalOptions } from '../k8s/api-call-budget.ts';
import { apiCallError, statusOf } from '../k8s/api-error.ts';

/** Each API call doctor makes may take this long; a cluster that does not answer is reported, not waited on. */
const DEADLINE_MS = 15_000;

/** The API clients doctor reads with, under one budget. */
export interface Api {
  core: CoreV1Api;
  apps: AppsV1Api;
  admission: AdmissionregistrationV1Api;
  budget: ApiCallBudget;
}

export function doctorApi(kc: KubeConfig): Api {
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    budget: new ApiCallBudget({ maxInFlight: 8, deadlineMs: DEADLINE_MS }),
  };
}

/** Runs `call` within the deadline; a failure becomes an error naming `what`, never a response body. */
export function call<T>(api: Api, what: string, fn: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
  return api.budget.run((signal) => fn(signalOptions(signal))).catch((err: unknown) => {
    throw apiCallError(what, err);
  });
}

/** `call`, with 404 as null. */
export async function readOrNull<T>(api: Api, what: string, fn: (options: ConfigurationOptions) => Promise<T>): Promise<T | null> {
  try {
    return await call(api, what, fn);
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
export const fileError = (err: unknown) => (err as NodeJS.ErrnoException).code ?? errorText(err);
