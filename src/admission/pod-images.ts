import { isRecord } from '../util/is-record.ts';

/** Which admission operation a mutation serves; each may change a different set of fields. */
export type MutationMode = 'create' | 'update' | 'ephemeral';

export type ImageLocation = 'containers' | 'initContainers' | 'ephemeralContainers' | 'volumes';

/** One place in a Pod spec that holds an image reference. */
export interface ImageSlot {
  location: ImageLocation;
  /** Container or volume name, as used in the original-images annotation key. */
  name: string;
  /** Position in its list; slotPath() makes the JSON pointer, only for an image that changes. */
  index: number;
  image: string;
}

const CONTAINER_LOCATIONS: Record<MutationMode, readonly ImageLocation[]> = {
  // On CREATE everything may be set.
  create: ['containers', 'initContainers', 'ephemeralContainers', 'volumes'],
  // A plain Pod UPDATE may change container and init-container images only.
  update: ['containers', 'initContainers'],
  // The ephemeralcontainers subresource keeps nothing but ephemeral containers.
  ephemeral: ['ephemeralContainers'],
};

/**
 * Lists the image references a mutation in `mode` may rewrite. Entries that are not shaped like
 * the Kubernetes schema are skipped here; the API server rejects such Pods on its own.
 */
export function imageSlots(spec: Record<string, unknown>, mode: MutationMode): ImageSlot[] {
  const slots: ImageSlot[] = [];
  for (const location of CONTAINER_LOCATIONS[mode]) {
    const entries = spec[location];
    if (!Array.isArray(entries)) continue;
    entries.forEach((entry: unknown, index) => {
      if (!isRecord(entry)) return;
      const name = typeof entry.name === 'string' ? entry.name : String(index);
      if (location === 'volumes') {
        const source = entry.image;
        if (isRecord(source) && typeof source.reference === 'string') {
          slots.push({ location, name, index, image: source.reference });
        }
        return;
      }
      if (typeof entry.image === 'string') {
        slots.push({ location, name, index, image: entry.image });
      }
    });
  }
  return slots;
}

/** JSON pointer to the slot's image string (locations and indexes need no RFC 6901 escaping). */
export function slotPath(slot: ImageSlot): string {
  return slot.location === 'volumes' ? `/spec/volumes/${slot.index}/image/reference` : `/spec/${slot.location}/${slot.index}/image`;
}

/** `<location>/<name>`: the original-images annotation key, and how a slot is matched across an update. */
export function slotKey(slot: ImageSlot): string {
  return `${slot.location}/${slot.name}`;
}

/**
 * For each of `slots`, the image of its counterpart among `before` (the stored Pod's slots): the
 * one at the same location with the same name, or undefined when there is none. Should names
 * repeat (the API server rejects that), the k-th of a name pairs with the k-th, so an unchanged
 * Pod still pairs every slot with itself.
 */
export function counterpartImages(slots: readonly ImageSlot[], before: readonly ImageSlot[]): Array<string | undefined> {
  const byKey = new Map<string, string[]>();
  for (const slot of before) {
    const images = byKey.get(slotKey(slot));
    if (images) images.push(slot.image);
    else byKey.set(slotKey(slot), [slot.image]);
  }
  return slots.map((slot) => byKey.get(slotKey(slot))?.shift());
}
