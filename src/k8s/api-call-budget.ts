import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { ApiCallError } from './api-error.ts';

export interface ApiCallBudgetOptions {
  /** Calls allowed to wait on the API server at once; one more is refused, not queued. */
  maxInFlight: number;
  /** How long a call may take before it is aborted. */
  deadlineMs: number;
  /** Told the number of calls in flight whenever it changes (for a gauge). */
  onInFlightChange?: (inFlight: number) => void;
}

function checkPositive(name: string, value: number, integer: boolean): void {
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
}

/**
 * Bounds every Kubernetes API call pullgate makes, in time and in number. The client itself waits
 * minutes for an answer, so against a hung API server each admission would leave one more call
 * (and its socket and buffers) behind: here a call is aborted at its deadline, and past
 * `maxInFlight` a new one fails at once rather than queue behind calls that may never finish.
 */
export class ApiCallBudget {
  readonly #maxInFlight: number;
  readonly #deadlineMs: number;
  readonly #onInFlightChange: (inFlight: number) => void;
  #inFlight = 0;

  constructor(options: ApiCallBudgetOptions) {
    checkPositive('maxInFlight', options.maxInFlight, true);
    checkPositive('deadlineMs', options.deadlineMs, false);
    this.#maxInFlight = options.maxInFlight;
    this.#deadlineMs = options.deadlineMs;
    this.#onInFlightChange = options.onInFlightChange ?? (() => {});
  }

  /**
   * Calls whose promise has not settled yet. A call that ignores its signal keeps its place past
   * the deadline: the count says what is really outstanding, so saturation still protects.
   */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Runs `call`, which must pass `signal` to the API client (see signalOptions). Rejects with an
   * ApiCallError of kind 'saturated' without calling when the budget is spent, and of kind
   * 'timeout' at the deadline, when the signal is aborted.
   */
  run<T>(call: (signal: AbortSignal) => Promise<T>, deadlineMs: number = this.#deadlineMs): Promise<T> {
    checkPositive('deadlineMs', deadlineMs, false);
    if (this.#inFlight >= this.#maxInFlight) {
      return Promise.reject(new ApiCallError('saturated', `not sent: API calls in flight at the limit (${this.#maxInFlight})`));
    }
    const controller = new AbortController();
    this.#changeInFlight(1);
    let work: Promise<T>;
    try {
      work = call(controller.signal);
    } catch (err) {
      work = Promise.reject(err);
    }
    const settled = () => this.#changeInFlight(-1);
    work.then(settled, settled);

    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const timeout = new ApiCallError('timeout', `no answer within ${deadlineMs} ms`);
        // Settle first: whatever the aborted call rejects with, this caller sees the timeout.
        reject(timeout);
        controller.abort(timeout);
      }, deadlineMs);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #changeInFlight(delta: number): void {
    this.#inFlight += delta;
    this.#onInFlightChange(this.#inFlight);
  }
}

/**
 * The per-call options of @kubernetes/client-node that make a request use `signal`: a middleware
 * appended to the configured ones (which carry authentication) sets it on the request, and the
 * fetch underneath aborts the request, closing its connection, when the signal fires.
 *
 * The object-parameter APIs (`CoreV1Api` and the rest) hand per-call middleware straight to the
 * Observable layer, which calls `.toPromise()` on what `pre` and `post` return: a middleware
 * returning a plain Promise would fail every call, so these return the client's Observable.
 */
export function signalOptions(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
