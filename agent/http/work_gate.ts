/**
 * A bound on the request bodies the agent holds at once. A write keeps its body (up to 8 MiB),
 * the parsed values and the validated copy until it commits, and SQLite commits one write at a
 * time anyway; forty clients posting 10,000 readings together took the agent over its pod's
 * 160 MiB (docs/PERFORMANCE.md). Each request weighs its declared body size (a body without
 * `Content-Length` weighs the most a body may be); requests past the byte budget wait in a FIFO
 * queue **before their body is read**, so a waiting request costs a few kilobytes, and small
 * writes pass while the budget has room. Past the queue they get 503 `busy` with `Retry-After`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "@outpost/platform/http_error";

const MIN_WEIGHT = 4096;

/** Options of {@link WorkGate}. */
export interface WorkGateOptions {
  /** The sum of the weights worked on at once (a heavier request still runs alone). */
  capacity: number;
  /** Requests that may wait for a turn; more are refused. */
  queue: number;
  /** What the gate protects, for the 503 message ("writes"). */
  what: string;
  /** Called when a request is refused (metrics). */
  onRefused?: () => void;
}

/** A weighted semaphore with a bounded FIFO queue. */
export class WorkGate {
  #options: WorkGateOptions;
  #used = 0;
  #running = 0;
  #waiting: { weight: number; start: () => void }[] = [];

  constructor(options: WorkGateOptions) {
    if (!(options.capacity > 0)) throw new RangeError("capacity must be positive");
    this.#options = options;
  }

  /** Requests being worked on. */
  get running(): number {
    return this.#running;
  }

  /** The sum of their weights. */
  get used(): number {
    return this.#used;
  }

  /** Requests waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `work` when a slot is free.
   * @throws HttpError 503 `busy` (with `retryAfterSeconds`) when the queue is full.
   */
  async run<T>(weight: number, work: () => Promise<T>): Promise<T> {
    const taken = Math.min(Math.max(weight, 0), this.#options.capacity);
    await this.#acquire(taken);
    try {
      return await work();
    } finally {
      this.#used -= taken;
      this.#running--;
      this.#admit();
    }
  }

  #fits(weight: number): boolean {
    return this.#running === 0 || this.#used + weight <= this.#options.capacity;
  }

  #acquire(weight: number): Promise<void> {
    // FIFO: nobody overtakes a request already waiting, so a large body is not starved.
    if (this.#waiting.length === 0 && this.#fits(weight)) {
      this.#take(weight);
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.#options.queue) {
      this.#options.onRefused?.();
      throw new HttpError(
        503,
        "busy",
        `Too many ${this.#options.what} at once (${this.#running} in progress, ` +
          `${this.#waiting.length} waiting); retry in a second`,
      );
    }
    return new Promise((resolve) => {
      this.#waiting.push({ weight, start: resolve });
    });
  }

  #take(weight: number): void {
    this.#used += weight;
    this.#running++;
  }

  #admit(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0].weight)) {
      const next = this.#waiting.shift()!;
      this.#take(next.weight);
      next.start();
    }
  }
}

/**
 * Middleware running the rest of a request of one of `methods` inside `gate`, weighing its
 * declared body size; a body of unknown size weighs `maxBodyBytes`.
 */
export function gateRequests(
  gate: WorkGate,
  methods: readonly string[],
  maxBodyBytes: number,
): MiddlewareHandler {
  const gated = new Set(methods);
  return async function throughWorkGate(c, next) {
    if (!gated.has(c.req.method)) return await next();
    const declared = Number(c.req.header("content-length") ?? Number.NaN);
    // A floor, so that thousands of tiny writes still count for their per-request cost.
    const weight = Number.isFinite(declared) && declared >= 0
      ? Math.min(Math.max(declared, MIN_WEIGHT), maxBodyBytes)
      : maxBodyBytes;
    try {
      await gate.run(weight, () => next());
    } catch (error) {
      if (error instanceof HttpError && error.code === "busy") c.header("Retry-After", "1");
      throw error;
    }
  };
}
