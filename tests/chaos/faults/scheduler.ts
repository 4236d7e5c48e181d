/**
 * The fault schedule: a seeded, shuffled plan of faults run with random gaps, at most a few at
 * once, never two on the same thing (locks), each logged with its start, end and outcome.
 * @module
 */
import type { Rng } from "../rng.ts";
import { brokerPartition, degrade, partition } from "./network.ts";
import { diskFull } from "./disk.ts";
import { agentKill, brokerRestart, cloudKill, pause } from "./process.ts";
import { skew } from "./clock.ts";
import { type Fault, type FaultContext, type FaultKind, sleep } from "./types.ts";
import type { BrokerKind } from "../cluster.ts";

/** How many faults of each kind a run injects. */
export type FaultPlanCounts = Record<FaultKind, number>;

/** One fault as it happened. */
export interface FaultLogEntry {
  n: number;
  kind: FaultKind;
  target: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  detail: string;
  error?: string;
}

/** Mutual exclusion by key; faults wait until all their keys are free. */
export class Locks {
  #held = new Map<string, Promise<void>>();

  /** Takes every key; the returned function releases them. */
  async acquire(keys: string[]): Promise<() => void> {
    for (;;) {
      const busy = keys.map((key) => this.#held.get(key)).filter((p) => p !== undefined);
      if (busy.length === 0) break;
      await Promise.race(busy);
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const key of keys) this.#held.set(key, done);
    return () => {
      for (const key of keys) if (this.#held.get(key) === done) this.#held.delete(key);
      release();
    };
  }
}

/** Builds the shuffled plan: `counts[kind]` faults of each kind on random targets. */
export function planFaults(
  counts: FaultPlanCounts,
  agents: { index: number; deviceId: string }[],
  rng: Rng,
  broker: BrokerKind = "mosquitto",
): Fault[] {
  const plan: Fault[] = [];
  const agent = () => rng.pick(agents);
  for (let i = 0; i < counts.agent_kill; i++) {
    const a = agent();
    plan.push(agentKill(a.index, a.deviceId));
  }
  for (let i = 0; i < counts.cloud_kill; i++) plan.push(cloudKill());
  for (let i = 0; i < counts.broker_restart; i++) plan.push(brokerRestart(broker));
  for (let i = 0; i < counts.broker_partition; i++) plan.push(brokerPartition());
  for (let i = 0; i < counts.pause; i++) {
    const roll = rng.next();
    plan.push(pause(roll < 0.2 ? "cloud" : roll < 0.35 ? "broker" : agent()));
  }
  for (let i = 0; i < counts.partition; i++) {
    const a = agent();
    plan.push(partition(a.index, a.deviceId));
  }
  for (let i = 0; i < counts.degrade; i++) {
    const a = agent();
    plan.push(degrade(a.index, a.deviceId));
  }
  for (let i = 0; i < counts.disk_full; i++) {
    const a = agent();
    plan.push(diskFull(a.index, a.deviceId));
  }
  // Alternate the direction so every run with two or more skews goes both ways.
  for (let i = 0; i < counts.skew; i++) {
    const a = agent();
    plan.push(skew(a.index, a.deviceId, i % 2 === 0));
  }
  return rng.shuffle(plan);
}

/** Options of {@link runSchedule}. */
export interface ScheduleOptions {
  /** Faults in flight at once. */
  concurrency: number;
  /** Random pause between two fault starts, ms. */
  gapMs: [number, number];
  locks: Locks;
}

/** Runs the plan to the end; every fault's failure is logged and returned, never thrown. */
export async function runSchedule(
  plan: Fault[],
  context: FaultContext,
  rng: Rng,
  options: ScheduleOptions,
): Promise<FaultLogEntry[]> {
  const entries: FaultLogEntry[] = [];
  const inFlight = new Set<Promise<void>>();
  for (let n = 1; n <= plan.length; n++) {
    const fault = plan[n - 1];
    while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    await sleep(rng.int(options.gapMs[0], options.gapMs[1]));
    const faultRng = rng.fork();
    const release = await options.locks.acquire(fault.locks);
    const label = `fault ${n}/${plan.length} ${fault.kind} ${fault.target}`;
    const task = (async () => {
      const started = performance.now();
      const startedAt = new Date().toISOString();
      context.log.line(`${label}: start`);
      let detail = "";
      let error: string | undefined;
      try {
        detail = await fault.run(context, faultRng);
      } catch (e) {
        error = (e as Error).message;
      } finally {
        release();
      }
      const durationMs = Math.round(performance.now() - started);
      entries.push({
        n,
        kind: fault.kind,
        target: fault.target,
        startedAt,
        endedAt: new Date().toISOString(),
        durationMs,
        detail,
        error,
      });
      context.log.line(
        error
          ? `${label}: FAILED after ${durationMs} ms: ${error}`
          : `${label}: done in ${durationMs} ms: ${detail}`,
      );
    })();
    inFlight.add(task);
    task.then(() => inFlight.delete(task));
  }
  await Promise.all(inFlight);
  return entries.sort((a, b) => a.n - b.n);
}
