/**
 * The soak monitor: samples resident memory and open file descriptors of the agent and cloud
 * processes while the workload runs, and judges whether either keeps growing.
 *
 * The verdict compares the median of the first quarter with the median of the last quarter of
 * the samples taken after a warm-up (JIT, caches and SQLite's page cache fill up at first): a
 * leak shows as steady growth, noise does not move a median.
 * @module
 */

/** One reading of one process. */
export interface Sample {
  /** Seconds since sampling began. */
  t: number;
  pid: number;
  rssKb: number;
  fds: number;
}

/** Limits above which growth counts as a leak. */
export interface GrowthLimits {
  /** RSS may grow by this share of its early median… */
  rssShare: number;
  /** …or by this many MB, whichever is larger. */
  rssMb: number;
  /** Open file descriptors may grow by this many. */
  fds: number;
  /** Samples taken before this share of the run are warm-up. */
  warmupShare: number;
}

/** Default limits: generous enough for GC noise on a 2-core machine, tight enough for a leak. */
export const DEFAULT_LIMITS: GrowthLimits = {
  rssShare: 0.25,
  rssMb: 40,
  fds: 20,
  warmupShare: 0.2,
};

/** The verdict for one process. */
export interface GrowthVerdict {
  samples: number;
  rssEarlyMb: number;
  rssLateMb: number;
  rssPeakMb: number;
  fdsEarly: number;
  fdsLate: number;
  growing: boolean;
  reason: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Judges one process's samples (of its longest-lived pid). */
export function analyzeGrowth(
  samples: Sample[],
  limits: GrowthLimits = DEFAULT_LIMITS,
): GrowthVerdict {
  // A restart starts a new process whose memory is not comparable: keep the longest run.
  const byPid = new Map<number, Sample[]>();
  for (const sample of samples) {
    (byPid.get(sample.pid) ?? byPid.set(sample.pid, []).get(sample.pid)!).push(sample);
  }
  const series = [...byPid.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const settled = series.slice(Math.floor(series.length * limits.warmupShare));
  if (settled.length < 8) {
    return {
      samples: series.length,
      rssEarlyMb: 0,
      rssLateMb: 0,
      rssPeakMb: 0,
      fdsEarly: 0,
      fdsLate: 0,
      growing: false,
      reason: `too few samples to judge (${settled.length} after warm-up)`,
    };
  }
  const quarter = Math.max(2, Math.floor(settled.length / 4));
  const early = settled.slice(0, quarter);
  const late = settled.slice(-quarter);
  const rssEarlyMb = median(early.map((s) => s.rssKb)) / 1024;
  const rssLateMb = median(late.map((s) => s.rssKb)) / 1024;
  const fdsEarly = median(early.map((s) => s.fds));
  const fdsLate = median(late.map((s) => s.fds));
  const rssAllowed = Math.max(rssEarlyMb * limits.rssShare, limits.rssMb);
  const reasons: string[] = [];
  if (rssLateMb - rssEarlyMb > rssAllowed) {
    reasons.push(
      `RSS grew ${(rssLateMb - rssEarlyMb).toFixed(1)} MB (allowed ${rssAllowed.toFixed(1)})`,
    );
  }
  if (fdsLate - fdsEarly > limits.fds) {
    reasons.push(`open fds grew by ${fdsLate - fdsEarly} (allowed ${limits.fds})`);
  }
  return {
    samples: series.length,
    rssEarlyMb,
    rssLateMb,
    rssPeakMb: Math.max(...series.map((s) => s.rssKb)) / 1024,
    fdsEarly,
    fdsLate,
    growing: reasons.length > 0,
    reason: reasons.join("; ") || "stable",
  };
}

/** Reads RSS and the open fd count of `pid` from /proc; undefined when it is gone. */
export async function readProcess(
  pid: number,
): Promise<{ rssKb: number; fds: number } | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
    let fds = 0;
    for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
    return Number.isFinite(rssKb) ? { rssKb, fds } : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link watchSoak}. */
export interface WatchSoakOptions {
  minutes: number;
  log: { line(message: string): void };
  /** What the workload did so far, for the minute-by-minute progress line. */
  progress: () => string;
  /** Sampling interval; default 5 s. */
  intervalMs?: number;
}

/**
 * Samples `targets` for `minutes`, printing a line a minute, and judges each one's growth.
 * @returns the verdict per target name.
 */
export async function watchSoak(
  targets: Sampled[],
  options: WatchSoakOptions,
): Promise<Record<string, GrowthVerdict>> {
  const sampler = new Sampler(targets, options.intervalMs ?? 5000);
  sampler.start();
  const end = Date.now() + options.minutes * 60_000;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(60_000, end - Date.now())));
    const latest = [...sampler.series].map(([name, samples]) => {
      const last = samples.at(-1);
      return `${name} ${((last?.rssKb ?? 0) / 1024).toFixed(0)} MB/${last?.fds ?? "?"} fds`;
    });
    options.log.line(`soak: ${options.progress()}; ${latest.join(", ")}`);
  }
  sampler.stop();
  const verdicts: Record<string, GrowthVerdict> = {};
  for (const [name, samples] of sampler.series) {
    const verdict = analyzeGrowth(samples);
    verdicts[name] = verdict;
    options.log.line(
      `soak: ${name} RSS ${verdict.rssEarlyMb.toFixed(1)} → ${verdict.rssLateMb.toFixed(1)} MB ` +
        `(peak ${verdict.rssPeakMb.toFixed(1)}), fds ${verdict.fdsEarly} → ${verdict.fdsLate}: ` +
        verdict.reason,
    );
  }
  return verdicts;
}

/** Something with a pid to sample. */
export interface Sampled {
  name: string;
  pid(): Promise<number | undefined>;
}

/** Samples processes every `intervalMs` until stopped. */
export class Sampler {
  readonly series = new Map<string, Sample[]>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = 0;
  #targets: Sampled[];
  #intervalMs: number;

  constructor(targets: Sampled[], intervalMs: number) {
    this.#targets = targets;
    this.#intervalMs = intervalMs;
    for (const target of targets) this.series.set(target.name, []);
  }

  /** Takes a sample now and then every interval. */
  start(): void {
    this.#started = performance.now();
    const tick = async () => {
      const t = (performance.now() - this.#started) / 1000;
      for (const target of this.#targets) {
        const pid = await target.pid();
        const reading = pid === undefined ? undefined : await readProcess(pid);
        if (pid !== undefined && reading) {
          this.series.get(target.name)!.push({ t, pid, ...reading });
        }
      }
    };
    tick();
    this.#timer = setInterval(tick, this.#intervalMs);
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
