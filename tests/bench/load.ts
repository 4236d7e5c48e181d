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
