import type { Operation } from 'fast-json-patch';
import { hostOf, rewriteImage, type RewritePolicy } from '../image/rewrite.ts';
import { pointer } from './json-pointer.ts';
import { ORIGINAL_IMAGES_ANNOTATION } from './labels.ts';
import { isRecord } from '../util/is-record.ts';
import { shownImage } from '../util/redact.ts';
import {
  addedFieldSize,
  ANNOTATIONS_SIZE_LIMIT,
  annotationsSize,
  ENCLOSING_LENGTHS,
  mapEntrySize,
  STORED_OBJECT_BUDGET,
  storedSizeBound,
  storedSizeEstimate,
  stringFieldSize,
} from './api-server-limits.ts';
import { counterpartImages, imageSlots, slotKey, slotPath, type ImageSlot, type MutationMode } from './pod-images.ts';

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

interface AnnotationChange {
  ops: Operation[];
  /** What the change adds to the stored Pod (see api-server-limits.ts). */
  growth: number;
  warning?: string;
}

/**
 * The original-images annotation with `rewrites` merged in, unless that would take the Pod's
 * annotations past the API server's limit: then the annotation is left as it is (absent, or its
 * previous value) and a warning says so. The Pod is admitted either way.
 */
function annotationChange(pod: Record<string, unknown>, rewrites: ImageRewrite[]): AnnotationChange {
  const metadata = pod.metadata;
  const annotations = isRecord(metadata) && isRecord(metadata.annotations) ? metadata.annotations : undefined;
  // Entries for images rewritten now replace older ones (an UPDATE may change a container's image);
  // entries for containers not touched this time are kept.
  const merged = { ...(annotations ? parseOriginalImages(annotations) : {}), ...Object.fromEntries(rewrites.map((r) => [r.key, r.from])) };
  const value = JSON.stringify(merged);
  const previous = annotations?.[ORIGINAL_IMAGES_ANNOTATION];
  if (previous === value) return { ops: [], growth: 0 };
  const total = annotationsSize(annotations, { key: ORIGINAL_IMAGES_ANNOTATION, value });
  if (total > ANNOTATIONS_SIZE_LIMIT) {
    return {
      ops: [],
      growth: 0,
      warning: `pullgate: annotation "${ORIGINAL_IMAGES_ANNOTATION}" ${previous === undefined ? 'left out' : 'not updated'}: it would take the Pod's annotations to ${total} bytes, past the API server's limit of ${ANNOTATIONS_SIZE_LIMIT}`,
    };
  }
  const growth = mapEntrySize(ORIGINAL_IMAGES_ANNOTATION, value) - (previous === undefined ? 0 : mapEntrySize(ORIGINAL_IMAGES_ANNOTATION, previous)) + ENCLOSING_LENGTHS;
  if (!isRecord(metadata)) return { ops: [{ op: 'add', path: '/metadata', value: { annotations: { [ORIGINAL_IMAGES_ANNOTATION]: value } } }], growth };
  if (!annotations) return { ops: [{ op: 'add', path: '/metadata/annotations', value: { [ORIGINAL_IMAGES_ANNOTATION]: value } }], growth };
  // `add` on an existing member replaces it, so the same op serves both cases.
  return { ops: [{ op: 'add', path: pointer('metadata', 'annotations', ORIGINAL_IMAGES_ANNOTATION), value }], growth };
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
 *
 * The patch never takes the Pod past a size limit of the API server (api-server-limits.ts), which
 * would have it refused: the annotation is left out when the annotations would grow too large, and
 * a Pod that could grow past the largest object etcd stores keeps its images. Each time a warning
 * says what was left out.
 */
export function mutatePod(pod: unknown, mode: MutationMode, policy: MutationPolicy, oldPod?: unknown): PodMutation {
  if (!isRecord(pod) || !isRecord(pod.spec)) {
    return { ...NO_MUTATION, warnings: ['pullgate: the object has no Pod spec it can read; admitted unchanged'] };
  }
  const spec = pod.spec;
  const warnings: string[] = [];
  const imageOps: Operation[] = [];
  const rewrites: ImageRewrite[] = [];
  // Pulls from the proxy or the vendor registry without counting the images rewritten now.
  let pullsFromVendorAnyway = false;

  const proxyDomain = policy.rewrite.proxyDomain.toLowerCase();
  const registryDomain = policy.registryDomain.toLowerCase();
  const referencesSecret = pullSecretNames(spec).includes(policy.pullSecretName);
  const slots = imageSlots(spec, mode);
  const existing = mode === 'ephemeral' ? existingEphemeralNames(oldPod) : new Set<string>();
  const changed = mode === 'update' ? changedByUpdate(slots, oldPod) : undefined;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    // The API server refuses any change to an ephemeral container that already exists, so only
    // the ones this request adds are rewritten.
    if (existing.has(slot.name)) continue;
    if (changed && !changed[i]) {
      if (pullsFromVendor(slot.image, proxyDomain, registryDomain)) pullsFromVendorAnyway = true;
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
        imageOps.push({ op: 'replace', path: slotPath(slot), value: outcome.image });
        rewrites.push({ key, from: slot.image, to: outcome.image });
        break;
      case 'proxied':
        pullsFromVendorAnyway = true;
        break;
      case 'unchanged':
        if (pullsFromVendor(slot.image, proxyDomain, registryDomain)) pullsFromVendorAnyway = true;
        break;
      case 'invalid':
        warnings.push(capped(`pullgate: ${key}: image "${shownImage(slot.image)}" is not a valid reference (${outcome.reason.replaceAll(slot.image, shownImage(slot.image))}); left unchanged`));
        break;
      case 'too-long':
        warnings.push(`pullgate: ${key}: proxying image "${shownImage(slot.image)}" would exceed the 255-character name limit; left unchanged`);
        break;
    }
  }

  // Through the ephemeralcontainers subresource the API server keeps only ephemeral containers,
  // so an annotation change there would be silently dropped: don't send one.
  const planned: Planned = { imageOps, rewrites, pullsFromVendorAnyway, referencesSecret, annotate: mode !== 'ephemeral' };
  const full = assemble(pod, spec, mode, policy, planned);
  if (full.growth <= 0) return finish(full, warnings);
  // A Pod grown past what the API server can store would be refused, blocked by pullgate. Near
  // that limit, change less (no annotation, then no image, then nothing) and say what was left out.
  // The coarse bound settles it for all but the largest Pods; only those pay for the estimate.
  if (storedSizeBound(pod) + full.growth <= STORED_OBJECT_BUDGET) return finish(full, warnings);
  const size = storedSizeEstimate(pod);
  const fits = (candidate: Assembly) => candidate.growth <= 0 || size + candidate.growth <= STORED_OBJECT_BUDGET;
  if (fits(full)) return finish(full, warnings);
  const past = `could take the Pod past the largest object the API server stores (1.5 MiB in etcd; ${size + full.growth} bytes estimated)`;
  if (full.annotated) {
    const unannotated = assemble(pod, spec, mode, policy, { ...planned, annotate: false });
    if (fits(unannotated)) {
      warnings.push(capped(`pullgate: annotation "${ORIGINAL_IMAGES_ANNOTATION}" left out: it ${past}`));
      return finish(unannotated, warnings);
    }
  }
  const withoutImages = assemble(pod, spec, mode, policy, { ...planned, imageOps: [], rewrites: [], annotate: false });
  const secretFits = fits(withoutImages);
  const forgone = [
    ...(rewrites.length > 0 ? [`proxying ${rewrites.length} image${rewrites.length === 1 ? '' : 's'}`] : []),
    ...(secretFits ? [] : [`adding pull secret "${policy.pullSecretName}"`]),
  ].join(' and ');
  warnings.push(capped(`pullgate: ${forgone} ${past}; left unchanged`));
  return finish(secretFits ? withoutImages : { patch: [], warnings: [], rewrites: [], usesPullSecret: false, growth: 0, annotated: false }, warnings);
}

interface Assembly {
  patch: Operation[];
  warnings: string[];
  rewrites: ImageRewrite[];
  usesPullSecret: boolean;
  /** What the patch adds to the stored Pod (see api-server-limits.ts); 0 for no patch. */
  growth: number;
  /** The patch sets the original-images annotation. */
  annotated: boolean;
}

interface Planned {
  imageOps: Operation[];
  rewrites: ImageRewrite[];
  pullsFromVendorAnyway: boolean;
  referencesSecret: boolean;
  /** Record the originals in the original-images annotation. */
  annotate: boolean;
}

/** The patch for the image rewrites chosen: images, pull secret reference, annotation, and what they add. */
function assemble(pod: Record<string, unknown>, spec: Record<string, unknown>, mode: MutationMode, policy: MutationPolicy, planned: Planned): Assembly {
  const { imageOps, rewrites, pullsFromVendorAnyway } = planned;
  let { referencesSecret } = planned;
  const patch = [...imageOps];
  const warnings: string[] = [];
  const pullsWithSecret = pullsFromVendorAnyway || rewrites.length > 0;
  let growth = rewrites.reduce((sum, r) => sum + stringFieldSize(r.to) - stringFieldSize(r.from) + ENCLOSING_LENGTHS, 0);

  if (pullsWithSecret && !referencesSecret && mode === 'create') {
    const ref = { name: policy.pullSecretName };
    patch.push(Array.isArray(spec.imagePullSecrets)
      ? { op: 'add', path: '/spec/imagePullSecrets/-', value: ref }
      : { op: 'add', path: '/spec/imagePullSecrets', value: [ref] });
    growth += addedFieldSize([ref]);
    referencesSecret = true;
  }
  if (pullsWithSecret && !referencesSecret) {
    warnings.push(`pullgate: no pull secret "${policy.pullSecretName}" on this Pod (fixed at creation); proxied images may fail to pull. Recreate the Pod.`);
  }

  let annotated = false;
  if (rewrites.length > 0 && planned.annotate) {
    const annotation = annotationChange(pod, rewrites);
    patch.push(...annotation.ops);
    growth += annotation.growth;
    annotated = annotation.ops.length > 0;
    if (annotation.warning !== undefined) warnings.push(capped(annotation.warning));
  }

  return { patch, warnings, rewrites, usesPullSecret: pullsWithSecret && referencesSecret, growth, annotated };
}

function finish(assembly: Assembly, warnings: string[]): PodMutation {
  return { patch: assembly.patch, warnings: [...warnings, ...assembly.warnings], rewrites: assembly.rewrites, usesPullSecret: assembly.usesPullSecret };
}
