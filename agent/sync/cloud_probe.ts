/**
 * A cheap look at the cloud while the sync loop backs off: `GET <cloud>/healthz` every couple
 * of seconds. Backoff keeps a fleet from hammering a cloud that is down, but it also made an
 * agent wait up to its ceiling (17 s seen, 30-60 s possible) after the cloud was back. When the
 * probe sees the cloud answer **after it had failed**, the wait ends early, after a random
 * spread so a fleet does not reconnect in lockstep. A cloud whose HTTP side answers all along
 * (a broker outage behind a healthy API) never ends a wait early: the backoff stays in charge.
 * @module
 */

/** Options of {@link CloudProbe}. */
export interface CloudProbeOptions {
  /** The cloud's base URL; `/healthz` is appended. */
  cloudUrl: string;
  /** Mean time between probes; each is jittered to 0.5-1.5 times it. Default 2000. */
  intervalMs?: number;
  /** A probe that takes longer counts as failed. Default 2000. */
  timeoutMs?: number;
  /** The wait ends up to this long after the cloud answered again. Default 2000. */
  spreadMs?: number;
  random?: () => number;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** Why a {@link CloudProbe.wait} ended. */
export type WaitOutcome = "elapsed" | "cloud_back" | "aborted";

/** Probes the cloud during backoff waits; remembers across waits whether it saw it down. */
export class CloudProbe {
  #url: string;
  #intervalMs: number;
  #timeoutMs: number;
  #spreadMs: number;
  #random: () => number;
  #fetch: (url: string, init: RequestInit) => Promise<Response>;
  #seenDown = false;

  constructor(options: CloudProbeOptions) {
    this.#url = `${options.cloudUrl.replace(/\/+$/, "")}/healthz`;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#spreadMs = options.spreadMs ?? 2000;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** The probes' mean interval: waits shorter than it are not probed. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Forgets a failure seen: call after a successful connection. */
  reset(): void {
    this.#seenDown = false;
  }

  /**
   * Waits `delayMs`, probing meanwhile; ends early (`cloud_back`) once the cloud answers after a
   * probe of this or an earlier wait had failed, or at once when `signal` aborts.
   */
  async wait(delayMs: number, signal: AbortSignal): Promise<WaitOutcome> {
    const deadline = Date.now() + delayMs;
    while (!signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) return "elapsed";
      const pause = Math.min(left, this.#intervalMs * (0.5 + this.#random()));
      if (!(await sleep(pause, signal))) return "aborted";
      if (Date.now() >= deadline) return "elapsed";
      if (await this.#answers(signal)) {
        if (this.#seenDown) {
          this.#seenDown = false;
          const spread = Math.min(this.#spreadMs * this.#random(), deadline - Date.now());
          if (spread > 0 && !(await sleep(spread, signal))) return "aborted";
          return "cloud_back";
        }
      } else {
        this.#seenDown = true;
      }
    }
    return "aborted";
  }

  async #answers(signal: AbortSignal): Promise<boolean> {
    try {
      const response = await this.#fetch(this.#url, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
        headers: { accept: "application/json" },
      });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }
}

/** Sleeps `ms`; false when `signal` aborted it. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (finished: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(finished);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort);
  });
}
