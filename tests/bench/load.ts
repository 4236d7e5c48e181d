/**
 * Open-loop HTTP load for latency at a fixed rate (the dashboard row). Closed-loop throughput
 * comes from wrk (tests/bench/wrk.ts): a `fetch` loop saturates long before the servers do.
 *
 * The sender here is checked too: it records how late each request left against its schedule
 * and the rate it achieved, so a row can be refused when the sender, not the server, lagged.
 * @module
 */

/** Result of {@link runOpenLoop}. */
export interface OpenLoopResult {
  requests: number;
  errors: number;
  /** Requests sent per second over the run. */
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  /** p99 of how late a request left after its scheduled time. */
  sendLagP99Ms: number;
}

/** Options of {@link runOpenLoop}. */
export interface OpenLoopOptions {
  /** Requests per second, sent on a fixed schedule whatever the answers do. */
  rate: number;
  durationMs: number;
  /** Per-request options (e.g. an Authorization header). */
  init?: () => RequestInit;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * Open-loop load: request `i` is sent at `start + i / rate` and its latency counts from that
 * scheduled time, so a slow server cannot hide its queueing (no coordinated omission).
 */
export async function runOpenLoop(url: string, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round(options.rate * options.durationMs / 1000));
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  const lags: number[] = [];
  let errors = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * intervalMs;
    const wait = scheduled - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    lags.push(Math.max(0, performance.now() - scheduled));
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
  const sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    // The last request leaves at (total - 1) intervals: count the intervals, not the requests.
    achievedRate: total > 1 ? (total - 1) / sendSeconds : options.rate,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    sendLagP99Ms: percentile(lags, 0.99),
  };
}
