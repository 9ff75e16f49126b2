import { INJECT_LABEL, OPT_OUT_VALUE } from './labels.ts';
import { mutatePod, type MutationPolicy, type PodMutation } from './mutate-pod.ts';
import type { MutationMode } from './pod-images.ts';
import { isRecord } from '../util/is-record.ts';
import { allowed, patched, type AdmissionResponse } from './response.ts';
import type { AdmissionRequest } from './review.ts';

/** What admission needs from the rest of pullgate; the server wires the real parts in. */
export interface AdmissionContext {
  /** The current policy (it follows license changes). */
  policy(): MutationPolicy;
  /** Warnings every response carries, such as an expired license. */
  standingWarnings(): string[];
  /** The namespace is in pullgate's scope (see NamespaceScope); anything else is left alone. */
  serves(namespace: string): boolean | Promise<boolean>;
  /** Makes sure the pull secret exists and is current in `namespace`; returns nothing when that is known at once. */
  ensurePullSecret(namespace: string): void | Promise<void>;
}

export type Decision = 'ignored' | 'out-of-scope' | 'opted-out' | 'unchanged' | 'mutated';

export interface AdmissionResult {
  response: AdmissionResponse;
  decision: Decision;
  mode?: MutationMode;
  mutation?: PodMutation;
  /** Set when the pull secret could not be ensured; the Pod is admitted regardless. */
  secretError?: Error;
}

/** Maps a request to the mutation it allows, or undefined when pullgate has nothing to do with it. */
export function modeOf(request: AdmissionRequest): MutationMode | undefined {
  const resource = request.resource;
  if (resource?.resource !== 'pods' || (resource.group ?? '') !== '') return undefined;
  const sub = request.subResource ?? '';
  if (request.operation === 'CREATE' && sub === '') return 'create';
  if (request.operation === 'UPDATE' && sub === '') return 'update';
  if (request.operation === 'UPDATE' && sub === 'ephemeralcontainers') return 'ephemeral';
  return undefined;
}

/** The Pod (or Pod template) carries the opt-out label `pullgate.dev/inject=disabled`. */
export function optedOut(pod: unknown): boolean {
  if (!isRecord(pod) || !isRecord(pod.metadata) || !isRecord(pod.metadata.labels)) return false;
  return pod.metadata.labels[INJECT_LABEL] === OPT_OUT_VALUE;
}

/**
 * Decides one admission request. Never throws for anything about the request itself and never
 * denies: when the pull secret cannot be ensured the Pod is still admitted, with a warning.
 */
export async function admit(request: AdmissionRequest, ctx: AdmissionContext): Promise<AdmissionResult> {
  const standing = ctx.standingWarnings();
  const mode = modeOf(request);
  if (!mode) return { response: allowed(request.uid, standing), decision: 'ignored' };
  const namespace = request.namespace ?? '';
  // However a review reached pullgate, a namespace out of scope gets no change and no secret.
  const served = ctx.serves(namespace);
  if (!(typeof served === 'boolean' ? served : await served)) return { response: allowed(request.uid, standing), decision: 'out-of-scope', mode };
  if (optedOut(request.object)) return { response: allowed(request.uid, standing), decision: 'opted-out', mode };

  const mutation = mutatePod(request.object, mode, ctx.policy(), request.oldObject);
  const warnings = [...standing, ...mutation.warnings];
  let secretError: Error | undefined;
  if (mutation.usesPullSecret && request.dryRun !== true && namespace !== '') {
    try {
      const pending = ctx.ensurePullSecret(namespace);
      if (pending) await pending;
    } catch (err) {
      secretError = err as Error;
      warnings.push(`pullgate: could not ensure pull secret "${ctx.policy().pullSecretName}" in namespace "${namespace}" (${secretError.message}); images may fail to pull`);
    }
  }
  const decision: Decision = mutation.patch.length > 0 ? 'mutated' : 'unchanged';
  return { response: patched(request.uid, mutation.patch, warnings), decision, mode, mutation, ...(secretError ? { secretError } : {}) };
}
