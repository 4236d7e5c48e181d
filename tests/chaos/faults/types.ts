/**
 * What every fault gets to work with, and what it reports.
 * @module
 */
import type { Cluster } from "../cluster.ts";
import type { Rng } from "../rng.ts";
import type { RunLog } from "../run_log.ts";
import type { Topology } from "../topology.ts";
import type { Workload } from "../workload.ts";

/** Every kind of fault, as counted in the summary. */
export const FAULT_KINDS = [
  "agent_kill",
  "cloud_kill",
  "broker_restart",
  "broker_partition",
  "pause",
  "partition",
  "degrade",
  "disk_full",
  "skew",
] as const;

/** One kind of fault. */
export type FaultKind = typeof FAULT_KINDS[number];

/** How long faults hold, ms: short here, longer in the long profile. */
export interface FaultTiming {
  /** Longest downtime of a killed process before its restart. */
  maxDowntimeMs: number;
  /** Longest SIGSTOP. */
  maxPauseMs: number;
  /** Longest partition or degradation. */
  maxPartitionMs: number;
  /** Longest clock skew. */
  maxSkewMs: number;
  /** Longest full disk. */
  maxDiskFullMs: number;
}

/** Shared state of the running faults. */
export interface FaultContext {
  cluster: Cluster;
  topology: Topology;
  workload: Workload;
  log: RunLog;
  timing: FaultTiming;
  /** Chance that a cloud restarted by a fault is armed to kill itself after a commit. */
  armChance: number;
  /** Faults survived, by kind (also bumped by the cloud's own fault injection). */
  counts: Record<FaultKind, number>;
}

/** One planned fault. */
export interface Fault {
  kind: FaultKind;
  /** What it hits, e.g. `chaos-a1` or `cloud`. */
  target: string;
  /** Lock keys: faults sharing one never overlap. */
  locks: string[];
  /** Injects the fault, holds it, heals it; returns what happened for the log. */
  run(context: FaultContext, rng: Rng): Promise<string>;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
