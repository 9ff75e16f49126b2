import { X509Certificate } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { TlsMaterial } from '../server/https-server.ts';
import { issueServerCertificate, type CertificateAuthority } from './certificates.ts';

export interface SelfManagedTlsOptions {
  /** The shared CA: read from its Secret, or created there by the first replica. */
  obtainCa(): Promise<CertificateAuthority>;
  /** Compares the CA Secret with the CA in use: unchanged (or put back), or another CA to move to. */
  checkCa(current: CertificateAuthority): Promise<{ state: 'same' | 'restored' } | { state: 'changed'; ca: CertificateAuthority }>;
  /** DNS names and IP addresses of the serving certificate. */
  sans: string[];
  validityMs: number;
  /** A new serving certificate to serve from now on. */
  onCertificate(material: TlsMaterial): void;
  /** The CA the serving certificates chain to, for the webhook's caBundle. */
  onCa(caPem: string): void;
  logger: Logger;
  /** How often the CA Secret and the renewal time are checked (default: a minute, at most a tenth of validityMs). */
  checkEveryMs?: number;
  /** First and longest pause between failed attempts to obtain the CA. */
  retryMs?: { first: number; max: number };
}

export interface SelfManagedTls {
  /** A serving certificate from the shared CA is in place. */
  ready(): boolean;
  start(): void;
  stop(): void;
}

/** Renewal at two thirds of the validity: a failed renewal has a third of it to succeed. */
export const RENEW_AT_FRACTION = 2 / 3;

/** When a certificate issued at `issuedAt` for `validityMs` is renewed. */
export function renewalTime(issuedAt: number, validityMs: number): number {
  return issuedAt + Math.floor(validityMs * RENEW_AT_FRACTION);
}

/**
 * Self-managed serving TLS: the CA from its Secret, this replica's own serving certificate issued
 * from it (its key never leaves the process), renewed at two thirds of its validity and swapped in
 * without a restart. One timer renews on time; a periodic check (which also follows the CA Secret)
 * renews late rather than never should the timer not fire (a suspended process, a clock step).
 */
export function selfManagedTls(options: SelfManagedTlsOptions): SelfManagedTls {
  const { logger, validityMs } = options;
  const retry = options.retryMs ?? { first: 1_000, max: 30_000 };
  const checkEveryMs = options.checkEveryMs ?? Math.min(60_000, Math.max(1_000, Math.floor(validityMs / 10)));
  let ca: CertificateAuthority | undefined;
  let renewAt = Infinity;
  let stopped = true;
  let busy = false;
  let delay = retry.first;
  let renewTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const issue = (authority: CertificateAuthority, why: string) => {
    const issuedAt = Date.now();
    const pair = issueServerCertificate(authority, options.sans, options.sans[0] ?? 'pullgate', validityMs);
    options.onCertificate({ cert: pair.certPem, key: pair.keyPem });
    renewAt = renewalTime(issuedAt, validityMs);
    const cert = new X509Certificate(pair.certPem);
    logger.info({ why, serial: cert.serialNumber, notAfter: new Date(cert.validTo).toISOString(), renewAt: new Date(renewAt).toISOString() }, 'serving certificate issued');
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => void step(), Math.max(0, renewAt - Date.now()));
    renewTimer.unref();
  };

  /** One step: obtain the CA if there is none yet, else follow its Secret; renew when due. Never two at once. */
  async function step(): Promise<void> {
    if (stopped || busy) return;
    busy = true;
    try {
      if (!ca) {
        const obtained = await options.obtainCa();
        if (stopped) return;
        ca = obtained;
        options.onCa(ca.certPem);
        issue(ca, 'start');
      } else {
        const checked = await options.checkCa(ca);
        if (stopped) return;
        if (checked.state === 'changed') {
          ca = checked.ca;
          logger.warn('the CA Secret holds another CA; serving a certificate from it');
          options.onCa(ca.certPem);
          issue(ca, 'new CA');
        } else if (Date.now() >= renewAt) {
          issue(ca, 'renewal');
        }
      }
      delay = retry.first;
    } catch (err) {
      // A key is never part of an error here: errors are CaSecretError and ApiCallError.
      logger.error({ err: (err as Error).message, retryInMs: ca ? checkEveryMs : delay }, ca ? 'checking the CA Secret failed; serving the current certificate' : 'cannot obtain the CA; not ready');
      if (!ca && !stopped) {
        retryTimer = setTimeout(() => void step(), delay);
        retryTimer.unref();
        delay = Math.min(delay * 2, retry.max);
      } else if (ca && Date.now() >= renewAt && !stopped) {
        // The CA in memory still issues: a renewal never waits on the API server.
        issue(ca, 'renewal');
      }
    } finally {
      busy = false;
    }
  }

  return {
    ready: () => ca !== undefined,
    start() {
      if (!stopped) return;
      stopped = false;
      checkTimer = setInterval(() => void step(), checkEveryMs);
      checkTimer.unref();
      void step();
    },
    stop() {
      stopped = true;
      clearTimeout(renewTimer);
      clearTimeout(retryTimer);
      clearInterval(checkTimer);
    },
  };
}
