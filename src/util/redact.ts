/**
 * What pullgate keeps out of logs, errors, warnings and metrics, defined in one place: the
 * credential in every form it is sent in, log fields that hold it, quoted request input in JSON
 * parse errors, and the user-info part of an image reference.
 */

export const REDACTED = '[redacted]';

/** Fields of a `.dockerconfigjson` registry entry that hold a credential. */
const DOCKER_CONFIG_SECRET_FIELDS = ['auth', 'password', 'identitytoken', 'registrytoken'] as const;

/**
 * Log fields masked wherever they appear at the top of a log record or one level down, as a
 * second line of defence should a credential-bearing object reach a log call (admission data is
 * logged by field, never as whole objects). `data` is a Secret's data.
 */
export const REDACTED_LOG_FIELDS: readonly string[] = ['licenseID', 'data', '.dockerconfigjson', ...DOCKER_CONFIG_SECRET_FIELDS];

/** The REDACTED_LOG_FIELDS as pino redact paths. */
export function logRedactPaths(): string[] {
  return REDACTED_LOG_FIELDS.flatMap((field) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `[${JSON.stringify(field)}]`;
    return [key, key.startsWith('[') ? `*${key}` : `*.${key}`];
  });
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The credential values of a parsed `.dockerconfigjson`, and what an `auth` value decodes to. */
function dockerConfigSecrets(config: unknown): string[] {
  const auths = isObject(config) && isObject(config.auths) ? Object.values(config.auths) : [];
  return auths.filter(isObject).flatMap((entry) =>
    DOCKER_CONFIG_SECRET_FIELDS.flatMap((field) => {
      const value = entry[field];
      if (typeof value !== 'string') return [];
      if (field !== 'auth') return [value];
      // `auth` is base64("user:password"); the password alone may be echoed too.
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0 || base64(decoded) !== value) return [value];
      return [value, decoded, decoded.slice(colon + 1)];
    }),
  );
}

/**
 * Shorter values are not credentials worth the name, and masking them everywhere (every "a" of a
 * message) would leave nothing readable.
 */
const MIN_FORM_LENGTH = 4;

/**
 * Every form in which the credential of a pull secret can appear in text: the `.dockerconfigjson`
 * as text (also as escaped inside a JSON string) and in base64 (the Secret's data), each
 * credential it holds (`auth` values, what they decode to, and their password part; `password`
 * and token fields of a copied config), and, for a license-derived config, the license ID and
 * `base64("LICENSE_ID:" + id)`. Longest first, so a form is masked before any part of it.
 */
export function credentialForms(dockerConfigJson: string, licenseID?: string): string[] {
  const forms = [dockerConfigJson, base64(dockerConfigJson), JSON.stringify(dockerConfigJson).slice(1, -1)];
  try {
    forms.push(...dockerConfigSecrets(JSON.parse(dockerConfigJson)));
  } catch {
    // Not JSON (a copied Secret can hold anything): masked as a whole only.
  }
  if (licenseID) forms.push(licenseID, base64(`LICENSE_ID:${licenseID}`));
  return [...new Set(forms.filter((form) => form.length >= MIN_FORM_LENGTH))].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each of `secretForms` (see credentialForms) masked. */
export function redactCredential(text: string, secretForms: readonly string[]): string {
  let result = text;
  for (const form of secretForms) if (form.length > 0) result = result.split(form).join(REDACTED);
  return result;
}

/**
 * The reason of a JSON.parse failure, fit to send back and log. V8 quotes the input around an
 * unexpected token (`Unexpected token 'h', ..."value":hunter2}"... is not valid JSON`), and a
 * request may carry credentials: only messages without quoted input, which name a position
 * instead, are kept.
 */
export function jsonParseErrorReason(message: string): string {
  return message.includes('"') ? 'unexpected token' : message;
}

/**
 * An image reference without the `user:password@` (or `token@`) a mistaken
 * `https://user:token@host/x` would carry. A digest's `@` is never taken for it: user info
 * comes before the first `/`.
 */
export function redactImageUserInfo(image: string): string {
  return image.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]+@(?=[^/@\s]+\/)/i, '$1***@');
}

// The API server truncates each warning at 256 characters and drops them past 4 KiB in all.
const SHOWN_IMAGE_MAX = 120;

/** An image as quoted in a warning (and so in logs): without user info, cut to a readable length. */
export function shownImage(image: string): string {
  const safe = redactImageUserInfo(image);
  return safe.length > SHOWN_IMAGE_MAX ? `${safe.slice(0, SHOWN_IMAGE_MAX)}…` : safe;
}
