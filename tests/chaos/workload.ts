/**
 * The workload: writers that post readings and events to every agent at a steady rate, and the
 * history of every write with what came back. Every write carries identities no other write
 * has (a reading's value is unique per agent, an event's message too), so the checker can find
 * each one in the agent's and the cloud's databases whatever seq it ended up with.
 * @module
 */
import type { Rng } from "./rng.ts";

/** The sensor every workload reading uses; its value is the write's identity. */
export const WORKLOAD_SENSOR = "chaos";

/** What the client learnt about one write. */
export type Outcome =
  /** A 2xx: the promise applies — it must reach the cloud exactly once. */
  | "acknowledged"
  /** A definite non-2xx answer: it must be stored nowhere. */
  | "rejected"
  /** No answer (connection refused or reset, timeout): it may or may not be stored. */
  | "unanswered";

/** One write in the history. */
export interface WriteEntry {
  agent: string;
  kind: "readings" | "event";
  /** Readings: values `first … first + count - 1`. Events: count 1. */
  first: number;
  count: number;
  /** Events: the unique message. */
  message?: string;
  /** Events: the id the agent returned (acknowledged only). */
  eventId?: string;
  outcome: Outcome;
  status?: number;
  /** The error code of a rejection, or the failure of an unanswered write. */
  detail?: string;
  /** Milliseconds since the run started. */
  start: number;
  end: number;
  /** Who wrote it: the steady workload or a fault that needed writes of its own. */
  by: string;
}

/** An agent the workload writes to. */
export interface WorkloadTarget {
  deviceId: string;
  url: string;
}

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  targets: WorkloadTarget[];
  rng: Rng;
  /** Milliseconds since the run started. */
  clock: () => number;
  /** Concurrent writers per agent. */
  writersPerAgent?: number;
  /** Mean pause between two writes of one writer, ms. */
  intervalMs?: number;
  /** Give up waiting for an answer after this long (the write is then unanswered). */
  timeoutMs?: number;
}

/** Sums over a history. */
export interface HistoryStats {
  /** Records attempted (readings + events). */
  writes: number;
  acknowledged: number;
  rejected: number;
  unanswered: number;
  /** Rejections by their status. */
  rejectedByStatus: Record<string, number>;
}

/** Writers plus the history they record. */
export class Workload {
  readonly history: WriteEntry[] = [];
  #options: Required<WorkloadOptions>;
  #next = new Map<string, number>();
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(options: WorkloadOptions) {
    this.#options = { writersPerAgent: 2, intervalMs: 100, timeoutMs: 10_000, ...options };
  }

  /** Starts the writers. */
  start(): void {
    this.#running = true;
    for (const target of this.#options.targets) {
      for (let w = 0; w < this.#options.writersPerAgent; w++) {
        this.#loops.push(this.#writer(target, this.#options.rng.fork()));
      }
    }
  }

  /** Stops the writers and waits for writes in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops.splice(0));
  }

  async #writer(target: WorkloadTarget, rng: Rng): Promise<void> {
    const interval = this.#options.intervalMs;
    while (this.#running) {
      if (rng.chance(0.12)) await this.writeEvent(target, "workload");
      else {
        const count = rng.chance(0.03) ? rng.int(50, 200) : rng.int(1, 10);
        await this.writeReadings(target, count, { by: "workload", withTs: rng.chance(0.3) });
      }
      await new Promise((resolve) => setTimeout(resolve, rng.int(interval / 2, interval * 1.5)));
    }
  }

  #take(target: WorkloadTarget, count: number): number {
    const first = this.#next.get(target.deviceId) ?? 1;
    this.#next.set(target.deviceId, first + count);
    return first;
  }

  /** Posts `count` readings with fresh unique values; records and returns the entry. */
  async writeReadings(
    target: WorkloadTarget,
    count: number,
    options: { by: string; withTs?: boolean; unitLength?: number },
  ): Promise<WriteEntry> {
    const first = this.#take(target, count);
    const unit = "u".repeat(options.unitLength ?? 1);
    const ts = options.withTs ? new Date().toISOString() : undefined;
    const body = Array.from({ length: count }, (_, i) => ({
      sensor: WORKLOAD_SENSOR,
      value: first + i,
      unit,
      ...(ts ? { ts } : {}),
    }));
    const entry: WriteEntry = {
      agent: target.deviceId,
      kind: "readings",
      first,
      count,
      outcome: "unanswered",
      start: this.#options.clock(),
      end: 0,
      by: options.by,
    };
    await this.#post(`${target.url}/api/v1/readings`, body, entry);
    return entry;
  }

  /** Posts one event with a fresh unique message; records and returns the entry. */
  async writeEvent(
    target: WorkloadTarget,
    by: string,
  ): Promise<WriteEntry & { createdAt?: string }> {
    const first = this.#take(target, 1);
    const message = `chaos event ${target.deviceId} #${first}`;
    const entry: WriteEntry & { createdAt?: string } = {
      agent: target.deviceId,
      kind: "event",
      first,
      count: 1,
      message,
      outcome: "unanswered",
      start: this.#options.clock(),
      end: 0,
      by,
    };
    const body = await this.#post(`${target.url}/api/v1/events`, {
      kind: "chaos",
      severity: "info",
      message,
      data: { n: first },
    }, entry);
    if (entry.outcome === "acknowledged") {
      const answer = body as { id?: string } | undefined;
      entry.eventId = answer?.id;
      // The agent's own clock, as a fault checking a skew wants to see it.
      const stored = entry.eventId
        ? await this.#getJson(`${target.url}/api/v1/events/${entry.eventId}`)
        : undefined;
      entry.createdAt = (stored as { createdAt?: string } | undefined)?.createdAt;
    }
    return entry;
  }

  async #getJson(url: string): Promise<unknown> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.#options.timeoutMs) });
      return response.ok ? await response.json() : undefined;
    } catch {
      return undefined;
    }
  }

  async #post(url: string, body: unknown, entry: WriteEntry): Promise<unknown> {
    this.history.push(entry);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (error) {
      entry.outcome = "unanswered";
      entry.detail = (error as Error).name === "TimeoutError"
        ? "timeout"
        : (error as Error).message.slice(0, 120);
      entry.end = this.#options.clock();
      return undefined;
    }
    entry.status = response.status;
    // The status line is the answer: a 2xx whose body was cut off is still acknowledged.
    entry.outcome = response.ok ? "acknowledged" : "rejected";
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      answer = undefined;
    }
    if (!response.ok) {
      entry.detail = (answer as { error?: { code?: string } } | undefined)?.error?.code ??
        `status ${response.status}`;
    }
    entry.end = this.#options.clock();
    return answer;
  }

  /** Totals of the history so far. */
  stats(): HistoryStats {
    const stats: HistoryStats = {
      writes: 0,
      acknowledged: 0,
      rejected: 0,
      unanswered: 0,
      rejectedByStatus: {},
    };
    for (const entry of this.history) {
      stats.writes += entry.count;
      stats[entry.outcome] += entry.count;
      if (entry.outcome === "rejected") {
        const key = String(entry.status);
        stats.rejectedByStatus[key] = (stats.rejectedByStatus[key] ?? 0) + entry.count;
      }
    }
    return stats;
  }
}
