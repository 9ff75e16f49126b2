/**
 * The body bytes of the admission requests being handled, against a bound. A review's memory while
 * it is handled (the body, its text, the parsed object, the answer) is a multiple of its size, so
 * bounding bytes bounds the heap however the load is made up: many small reviews or a few at the
 * size limit.
 */
export class InFlightBytes {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`in-flight byte limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit under the limit; false (and nothing taken) if not. */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  /** Gives back what tryTake took, once the answer is sent. */
  release(bytes: number): void {
    this.#used -= bytes;
  }
}
