/**
 * A small closed-loop HTTP load generator: `connections` loops each sending requests back to
 * back for `durationMs`. Used for both the subject and its baseline, so the ratio is fair.
 * @module
 */

/** Result of {@link runLoad}. */
export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  connections?: number;
  durationMs?: number;
  init?: () => RequestInit;
}

/** Hammers `url` and reports throughput and latency percentiles. */
export async function runLoad(url: string, options: LoadOptions = {}): Promise<LoadResult> {
  const connections = options.connections ?? 32;
  const durationMs = options.durationMs ?? 3000;
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + durationMs;
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const response = await fetch(url, options.init?.());
        await response.arrayBuffer();
        if (!response.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
  };
}

/** Options of {@link runOpenLoop}. */
export interface OpenLoopOptions {
  /** Requests per second, sent on a fixed schedule whatever the answers do. */
  rate: number;
  durationMs: number;
  /** Per-request options (e.g. an Authorization header). */
  init?: () => RequestInit;
}

/**
 * Open-loop load: request `i` is sent at `start + i / rate` and its latency counts from that
 * scheduled time, so a slow server cannot hide its queueing (no coordinated omission).
 */
export async function runOpenLoop(url: string, options: OpenLoopOptions): Promise<LoadResult> {
  const total = Math.max(1, Math.round(options.rate * options.durationMs / 1000));
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * intervalMs;
    const wait = scheduled - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push((async () => {
      try {
        const response = await fetch(url, options.init?.());
        await response.arrayBuffer();
        if (!response.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - scheduled);
    })());
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
  };
}
