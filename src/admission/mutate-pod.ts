import type { Operation } from 'fast-json-patch';
import { hostOf, rewriteImage, type RewritePolicy } from '../image/rewrite.ts';
import { pointer } from './json-pointer.ts';
import { ORIGINAL_IMAGES_ANNOTATION } from './labels.ts';
import { isRecord } from '../util/is-record.ts';
import { counterpartImages, imageSlots, slotKey, type ImageSlot, type MutationMode } from './pod-images.ts';

/** Everything the pure Pod mutation needs to know, resolved once from configuration and license. */
export interface MutationPolicy {
  rewrite: RewritePolicy;
  registryDomain: string;
  pullSecretName: string;
}

export interface ImageRewrite {
  /** `<location>/<container-or-volume-name>`, the original-images annotation key. */
  key: string;
  from: string;
  to: string;
}

export interface PodMutation {
  /** Minimal RFC 6902 patch against the Pod as received; empty when nothing changes. */
  patch: Operation[];
  warnings: string[];
  rewrites: ImageRewrite[];
  /** After mutation the Pod pulls from the proxy or the vendor registry and references the pull secret. */
  usesPullSecret: boolean;
}

const NO_MUTATION: PodMutation = Object.freeze({ patch: [], warnings: [], rewrites: [], usesPullSecret: false });

// The API server truncates each warning at 256 characters and drops them past 4 KiB in all.
const SHOWN_IMAGE_MAX = 120;

/**
 * An image as quoted in a warning (and so in logs): cut to a readable length, and without the
 * `user:password@` a mistaken `https://user:token@host/x` would carry.
 */
export function shownImage(image: string): string {
  const safe = image.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s:]+:[^/@\s]+@(?=[^/]+\/)/i, '$1***@');
  return safe.length > SHOWN_IMAGE_MAX ? `${safe.slice(0, SHOWN_IMAGE_MAX)}…` : safe;
}

function capped(warning: string): string {
  return warning.length > 250 ? `${warning.slice(0, 249)}…` : warning;
}

function pullSecretNames(spec: Record<string, unknown>): string[] {
  const refs = spec.imagePullSecrets;
  if (!Array.isArray(refs)) return [];
  return refs.flatMap((ref: unknown) => (isRecord(ref) && typeof ref.name === 'string' ? [ref.name] : []));
}

function parseOriginalImages(annotations: Record<string, unknown>): Record<string, string> {
  const raw = annotations[ORIGINAL_IMAGES_ANNOTATION];
  if (typeof raw !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!isRecord(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

function annotationPatch(pod: Record<string, unknown>, rewrites: ImageRewrite[]): Operation[] {
  const metadata = pod.metadata;
  const annotations = isRecord(metadata) && isRecord(metadata.annotations) ? metadata.annotations : undefined;
  // Entries for images rewritten now replace older ones (an UPDATE may change a container's image);
  // entries for containers not touched this time are kept.
  const merged = { ...(annotations ? parseOriginalImages(annotations) : {}), ...Object.fromEntries(rewrites.map((r) => [r.key, r.from])) };
  const value = JSON.stringify(merged);
  if (!isRecord(metadata)) return [{ op: 'add', path: '/metadata', value: { annotations: { [ORIGINAL_IMAGES_ANNOTATION]: value } } }];
  if (!annotations) return [{ op: 'add', path: '/metadata/annotations', value: { [ORIGINAL_IMAGES_ANNOTATION]: value } }];
  if (annotations[ORIGINAL_IMAGES_ANNOTATION] === value) return [];
  // `add` on an existing member replaces it, so the same op serves both cases.
  return [{ op: 'add', path: pointer('metadata', 'annotations', ORIGINAL_IMAGES_ANNOTATION), value }];
}

function existingEphemeralNames(oldPod: unknown): Set<string> {
  if (!isRecord(oldPod) || !isRecord(oldPod.spec) || !Array.isArray(oldPod.spec.ephemeralContainers)) return new Set();
  return new Set(oldPod.spec.ephemeralContainers.flatMap((c: unknown) => (isRecord(c) && typeof c.name === 'string' ? [c.name] : [])));
}

/**
 * Which slots a Pod UPDATE changes: those whose image differs from their counterpart in the stored
 * Pod, or that have none. Without a stored Pod to compare with, none.
 */
function changedByUpdate(slots: readonly ImageSlot[], oldPod: unknown): boolean[] {
  if (!isRecord(oldPod) || !isRecord(oldPod.spec)) return slots.map(() => false);
  const before = counterpartImages(slots, imageSlots(oldPod.spec, 'update'));
  return slots.map((slot, i) => before[i] !== slot.image);
}

/** The image pulls from the proxy or the vendor registry (domains in lower case), so it needs the pull secret. */
function pullsFromVendor(image: string, proxyDomain: string, registryDomain: string): boolean {
  // Parsing again only for images that mention either domain: public images are the common case.
  const lower = image.toLowerCase();
  if (!lower.includes(proxyDomain) && !lower.includes(registryDomain)) return false;
  const host = hostOf(image);
  return host === proxyDomain || host === registryDomain;
}

/**
 * Computes the mutation of one Pod: no I/O, no clock, the same answer for the same input.
 * `mode` limits the change to what the API server keeps for that operation (see pod-images.ts);
 * `oldPod` is the stored Pod of an update, when the request carries it.
 *
 * On a Pod UPDATE only the images the update changes are rewritten, and only when the Pod already
 * references the pull secret (it cannot be added after creation): rewriting an image the update
 * left alone would restart its container, and a proxied image without the secret cannot be pulled.
 */
export function mutatePod(pod: unknown, mode: MutationMode, policy: MutationPolicy, oldPod?: unknown): PodMutation {
  if (!isRecord(pod) || !isRecord(pod.spec)) {
    return { ...NO_MUTATION, warnings: ['pullgate: the object has no Pod spec it can read; admitted unchanged'] };
  }
  const spec = pod.spec;
  const patch: Operation[] = [];
  const warnings: string[] = [];
  const rewrites: ImageRewrite[] = [];
  let pullsWithSecret = false;

  const proxyDomain = policy.rewrite.proxyDomain.toLowerCase();
  const registryDomain = policy.registryDomain.toLowerCase();
  let referencesSecret = pullSecretNames(spec).includes(policy.pullSecretName);
  const slots = imageSlots(spec, mode);
  const existing = mode === 'ephemeral' ? existingEphemeralNames(oldPod) : new Set<string>();
  const changed = mode === 'update' ? changedByUpdate(slots, oldPod) : undefined;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    // The API server refuses any change to an ephemeral container that already exists, so only
    // the ones this request adds are rewritten.
    if (existing.has(slot.name)) continue;
    if (changed && !changed[i]) {
      if (pullsFromVendor(slot.image, proxyDomain, registryDomain)) pullsWithSecret = true;
      continue;
    }
    const outcome = rewriteImage(slot.image, policy.rewrite);
    const key = slotKey(slot);
    switch (outcome.kind) {
      case 'rewritten':
        if (mode === 'update' && !referencesSecret) {
          warnings.push(capped(`pullgate: ${key}: image "${shownImage(slot.image)}" left unproxied: the Pod has no pull secret "${policy.pullSecretName}" and cannot get one after creation. Recreate the Pod.`));
          break;
        }
        patch.push({ op: 'replace', path: slot.path, value: outcome.image });
        rewrites.push({ key, from: slot.image, to: outcome.image });
        pullsWithSecret = true;
        break;
      case 'proxied':
        pullsWithSecret = true;
        break;
      case 'unchanged':
        if (pullsFromVendor(slot.image, proxyDomain, registryDomain)) pullsWithSecret = true;
        break;
      case 'invalid':
        warnings.push(capped(`pullgate: ${key}: image "${shownImage(slot.image)}" is not a valid reference (${outcome.reason.replaceAll(slot.image, shownImage(slot.image))}); left unchanged`));
        break;
      case 'too-long':
        warnings.push(`pullgate: ${key}: proxying image "${shownImage(slot.image)}" would exceed the 255-character name limit; left unchanged`);
        break;
    }
  }

  if (pullsWithSecret && !referencesSecret && mode === 'create') {
    const ref = { name: policy.pullSecretName };
    patch.push(Array.isArray(spec.imagePullSecrets)
      ? { op: 'add', path: '/spec/imagePullSecrets/-', value: ref }
      : { op: 'add', path: '/spec/imagePullSecrets', value: [ref] });
    referencesSecret = true;
  }
  if (pullsWithSecret && !referencesSecret) {
    warnings.push(`pullgate: no pull secret "${policy.pullSecretName}" on this Pod (fixed at creation); proxied images may fail to pull. Recreate the Pod.`);
  }

  // Through the ephemeralcontainers subresource the API server keeps only ephemeral containers,
  // so an annotation change there would be silently dropped: don't send one.
  if (rewrites.length > 0 && mode !== 'ephemeral') patch.push(...annotationPatch(pod, rewrites));

  return { patch, warnings, rewrites, usesPullSecret: pullsWithSecret && referencesSecret };
}
