/** A JSON object (not null, not an array): the shape every Kubernetes object and sub-object has. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
