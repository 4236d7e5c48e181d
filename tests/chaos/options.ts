/**
 * Profiles and command-line flags of the chaos suite. The short profile is what CI runs; the
 * long one (and any count) is on demand: `deno task test:chaos --profile=long --agent-kills=500`.
 * @module
 */
import type { FaultPlanCounts } from "./faults/scheduler.ts";
import type { FaultTiming } from "./faults/types.ts";
import { randomSeed } from "./rng.ts";
import type { ImpairMethod } from "./topology.ts";
import { BROKER_KINDS, type BrokerKind } from "./cluster.ts";

/** Everything a run is configured by. */
export interface ChaosOptions {
  profile: "short" | "long";
  seed: number;
  agents: number;
  counts: FaultPlanCounts;
  /** Fuzz inputs (HTTP and MQTT together); 0 skips the fuzz phase. */
  fuzz: number;
  impair: ImpairMethod;
  /**
   * Mosquitto (what production runs on one broker), the cloud's embedded development broker, or
   * a 3-node NATS JetStream cluster (issue 19).
   */
  broker: BrokerKind;
  /** Faults in flight at once. */
  concurrency: number;
  gapMs: [number, number];
  timing: FaultTiming;
  /** Chance that a restarted cloud is armed to kill itself after a commit. */
  armChance: number;
  /** tmpfs size of each agent's data disk. */
  diskSize: string;
  /** Soak mode: run the workload this many minutes without faults, watching RSS and fds. */
  soakMinutes: number;
  /** Where logs, history and databases go; a temp dir when unset. */
  runDir?: string;
  /** Keep the run dir even when the run passed. */
  keep: boolean;
  drainTimeoutMs: number;
}

const PROFILES: Record<
  ChaosOptions["profile"],
  Omit<ChaosOptions, "seed" | "impair" | "broker" | "keep" | "runDir" | "soakMinutes">
> = {
  short: {
    profile: "short",
    agents: 2,
    counts: {
      agent_kill: 12,
      cloud_kill: 6,
      broker_restart: 5,
      broker_partition: 0,
      pause: 4,
      partition: 4,
      degrade: 2,
      disk_full: 1,
      skew: 2,
    },
    fuzz: 10_000,
    concurrency: 2,
    gapMs: [300, 1500],
    timing: {
      maxDowntimeMs: 2000,
      maxPauseMs: 5000,
      maxPartitionMs: 10_000,
      maxSkewMs: 10_000,
      maxDiskFullMs: 4000,
    },
    armChance: 0.4,
    diskSize: "256m",
    drainTimeoutMs: 180_000,
  },
  long: {
    profile: "long",
    agents: 3,
    counts: {
      agent_kill: 150,
      cloud_kill: 60,
      broker_restart: 40,
      broker_partition: 0,
      pause: 40,
      partition: 40,
      degrade: 25,
      disk_full: 10,
      skew: 12,
    },
    fuzz: 50_000,
    concurrency: 3,
    gapMs: [500, 4000],
    timing: {
      // Longer than MQTT keepalive × 1.5 (45 s), so both sides have to notice the dead link.
      maxDowntimeMs: 8000,
      maxPauseMs: 60_000,
      maxPartitionMs: 90_000,
      maxSkewMs: 60_000,
      maxDiskFullMs: 20_000,
    },
    armChance: 0.4,
    diskSize: "1g",
    drainTimeoutMs: 300_000,
  },
};

/** Broker node partitions a profile plans with `--broker=nats` (the others have no nodes). */
const NATS_PARTITIONS: Record<ChaosOptions["profile"], number> = { short: 3, long: 30 };

const COUNT_FLAGS: Record<string, keyof FaultPlanCounts> = {
  "agent-kills": "agent_kill",
  "cloud-kills": "cloud_kill",
  "broker-restarts": "broker_restart",
  "broker-partitions": "broker_partition",
  "pauses": "pause",
  "partitions": "partition",
  "degrades": "degrade",
  "disk-full": "disk_full",
  "skews": "skew",
};

/** The `--help` text. */
/**
 * The longest the broker can be unavailable while the cloud restarts: a cloud kill and a broker
 * pause or restart lock different things, so they may overlap, and a restarted cloud can only
 * subscribe once the broker answers again. The cloud's readiness wait must outlast it.
 */
export function maxBrokerOutageMs(timing: ChaosOptions["timing"]): number {
  return Math.max(timing.maxPauseMs, timing.maxDowntimeMs);
}

export const USAGE = `Usage: deno task test:chaos [flags]

  --profile=short|long   counts and durations (default short: what CI runs)
  --seed=N               replay a run (the seed is printed at the start)
  --agents=N             workload agents, each in its own network namespace
  ${Object.keys(COUNT_FLAGS).map((flag) => `--${flag}=N`).join(" ")}
  --fuzz=N               fuzz inputs, HTTP and MQTT (0 skips the fuzz phase)
  --impair=netem|nft     how packet loss and delay are injected (default netem; env
                         OUTPOST_CHAOS_IMPAIR). nft: nftables random drop + tbf, for kernels
                         without sch_netem
  --broker=mosquitto|embedded|nats
                         the broker under test (default mosquitto, as in production; env
                         OUTPOST_CHAOS_BROKER). Broker restarts kill Mosquitto with
                         persistence on or off; with embedded they restart the cloud; with
                         nats (3-node JetStream cluster) they kill one node, pauses freeze one
                         node, and broker partitions cut one node off (one node at a time)
  --concurrency=N        faults in flight at once
  --soak-minutes=N       soak mode: N minutes of workload without faults, watching RSS and fds
  --run-dir=PATH         keep logs, history and databases there
  --keep                 keep the run dir even when the run passed
`;

/** Thrown for a bad flag, with the line to print. */
export class UsageError extends Error {}

function positiveInt(flag: string, raw: string, min = 0): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`--${flag} must be an integer >= ${min}: current value is '${raw}'`);
  }
  return value;
}

/** Parses flags (and `OUTPOST_CHAOS_IMPAIR`, `_BROKER`, `_SEED`) into options. */
export function parseChaosArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): ChaosOptions {
  const flags = new Map<string, string>();
  for (const arg of args) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new UsageError(`Unknown argument '${arg}'\n\n${USAGE}`);
    flags.set(match[1], match[2] ?? "true");
  }
  const profileName = flags.get("profile") ?? "short";
  if (profileName !== "short" && profileName !== "long") {
    throw new UsageError(`--profile must be short or long: current value is '${profileName}'`);
  }
  const base = PROFILES[profileName];
  const impair = flags.get("impair") ?? env.OUTPOST_CHAOS_IMPAIR ?? "netem";
  if (impair !== "netem" && impair !== "nft") {
    throw new UsageError(`--impair must be netem or nft: current value is '${impair}'`);
  }
  const broker = flags.get("broker") ?? env.OUTPOST_CHAOS_BROKER ?? "mosquitto";
  if (!(BROKER_KINDS as readonly string[]).includes(broker)) {
    throw new UsageError(
      `--broker must be ${BROKER_KINDS.join(", ")}: current value is '${broker}'`,
    );
  }
  const seedRaw = flags.get("seed") ?? env.OUTPOST_CHAOS_SEED;
  const options: ChaosOptions = {
    ...base,
    counts: { ...base.counts },
    timing: { ...base.timing },
    seed: seedRaw === undefined ? randomSeed() : positiveInt("seed", seedRaw) >>> 0,
    impair,
    broker: broker as BrokerKind,
    keep: flags.get("keep") === "true",
    runDir: flags.get("run-dir"),
    soakMinutes: 0,
  };
  for (const [flag, raw] of flags) {
    if (flag in COUNT_FLAGS) options.counts[COUNT_FLAGS[flag]] = positiveInt(flag, raw);
    else if (flag === "agents") options.agents = positiveInt(flag, raw, 1);
    else if (flag === "fuzz") options.fuzz = positiveInt(flag, raw);
    else if (flag === "concurrency") options.concurrency = positiveInt(flag, raw, 1);
    else if (flag === "soak-minutes") options.soakMinutes = positiveInt(flag, raw, 1);
    else if (flag === "help") throw new UsageError(USAGE);
    else if (!["profile", "seed", "impair", "broker", "keep", "run-dir"].includes(flag)) {
      throw new UsageError(`Unknown flag --${flag}\n\n${USAGE}`);
    }
  }
  if (options.agents > 40) throw new UsageError("--agents must be at most 40");
  if (options.broker === "nats" && !flags.has("broker-partitions")) {
    options.counts.broker_partition = NATS_PARTITIONS[options.profile];
  }
  if (options.broker !== "nats" && options.counts.broker_partition > 0) {
    throw new UsageError(
      `--broker-partitions needs --broker=nats (a cluster to cut one node off): broker is '${options.broker}'`,
    );
  }
  return options;
}
