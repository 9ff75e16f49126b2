import type { Logger } from '../logger.ts';
import { caFingerprintOf, caFromSecret, fingerprintOf, caSecretManifest, type CaCheck } from '../tls/ca-material.ts';
import type { CertificateAuthority } from '../tls/certificates.ts';
import { statusOf } from './api-error.ts';
import type { SecretsApi } from './secrets-api.ts';

export interface CaSecretOptions {
  api: Pick<SecretsApi, 'read' | 'create'>;
  namespace: string;
  name: string;
  /** A new CA, made only when there is no Secret to read it from. */
  generate(): CertificateAuthority;
  /** How long the CA must still be valid: a serving certificate issued now must not outlive it. */
  neededForMs: number;
  logger: Logger;
}

/** The CA Secret exists but holds nothing pullgate can issue from. Never overwritten: it may be someone else's. */
export class CaSecretError extends Error {
  constructor(namespace: string, name: string, problem: string) {
    super(`CA Secret ${namespace}/${name} ${problem}; fix or delete it (pullgate creates a new CA when there is none)`);
    this.name = 'CaSecretError';
  }
}

/**
 * The CA from its Secret, which whichever replica gets there first creates: every replica reads
 * it, one that finds none creates it, and a create that loses the race (409 AlreadyExists) reads
 * the winner's instead — no leader needed, and every replica ends up with the same CA.
 */
export async function obtainCa(options: CaSecretOptions): Promise<{ ca: CertificateAuthority; created: boolean }> {
  const { api, namespace, name, logger } = options;
  const check = (found: Parameters<typeof caFromSecret>[0]): CertificateAuthority => {
    const checked: CaCheck = caFromSecret(found, new Date(Date.now() + options.neededForMs));
    if (!checked.ok) throw new CaSecretError(namespace, name, checked.problem);
    return checked.ca;
  };
  const existing = await api.read(namespace, name);
  if (existing) return { ca: check(existing), created: false };
  const ca = options.generate();
  try {
    await api.create(namespace, caSecretManifest(name, namespace, ca));
    logger.info({ secret: `${namespace}/${name}` }, 'CA Secret created');
    return { ca, created: true };
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
  }
  const winner = await api.read(namespace, name);
  if (!winner) throw new CaSecretError(namespace, name, 'was created by another replica and deleted again at once');
  logger.info({ secret: `${namespace}/${name}` }, 'CA Secret created by another replica; using it');
  return { ca: check(winner), created: false };
}

/**
 * Compares the CA Secret with the CA in use: 'same'; 'missing' (deleted: put it back with the CA in
 * use, so the serving certificates and caBundle stay valid); or another, valid or not.
 */
export async function compareCaSecret(options: CaSecretOptions, current: CertificateAuthority): Promise<{ state: 'same' | 'restored' } | { state: 'changed'; ca: CertificateAuthority }> {
  const { api, namespace, name, logger } = options;
  const found = await api.read(namespace, name);
  if (!found) {
    try {
      await api.create(namespace, caSecretManifest(name, namespace, current));
      logger.warn({ secret: `${namespace}/${name}` }, 'CA Secret was deleted; created it again with the CA in use');
    } catch (err) {
      // Another replica put it back first (with the same CA, which they share); the next check compares.
      if (statusOf(err) !== 409) throw err;
    }
    return { state: 'restored' };
  }
  if (caFingerprintOf(found) === fingerprintOf(current.certPem)) return { state: 'same' };
  const checked = caFromSecret(found, new Date(Date.now() + options.neededForMs));
  if (!checked.ok) throw new CaSecretError(namespace, name, checked.problem);
  return { state: 'changed', ca: checked.ca };
}
