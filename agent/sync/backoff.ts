/**
 * Jittered exponential backoff ("full jitter"): a fleet that lost its network together must
 * not reconnect in lockstep when it comes back.
 * @module
 */

/** Options of {@link createBackoff}. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Source of randomness in [0, 1); replaceable in tests. */
  random?: () => number;
}

/** A backoff sequence. */
export interface Backoff {
  /** The next delay: uniform in [initial/2, min(max, initial * factor^n)]. */
  next(): number;
  /** Back to the first delay after a success. */
  reset(): void;
  readonly attempt: number;
}

/** Creates a jittered exponential backoff. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 60_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(max, initial * factor ** attempt);
      attempt++;
      const floor = Math.min(initial / 2, ceiling);
      return Math.round(floor + random() * (ceiling - floor));
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}
