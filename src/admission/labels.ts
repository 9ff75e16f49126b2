// Label and annotation names that are part of pullgate's contract (CONTRACT.md).
export const ORIGINAL_IMAGES_ANNOTATION = 'pullgate.dev/original-images';
export const INJECT_LABEL = 'pullgate.dev/inject';
export const OPT_OUT_VALUE = 'disabled';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'pullgate';
