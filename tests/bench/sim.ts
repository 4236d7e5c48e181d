/**
 * `deno task sim --devices N --rate R`: a fleet simulator. Enrolls N devices against a running
 * cloud (`--cloud URL --enroll-token T --admin-token T`) or one it starts itself (embedded
 * broker, libSQL), then runs N light-weight device sync clients in this one process. Each client
 * speaks the agent's protocol with the agent's own code: `agent/sync/enroll.ts`,
 * `agent/protocol/*` (topics, message schemas) and `agent/sync/publisher.ts` (batching, window,
 * resend) over an in-memory outbox instead of SQLite.
 *
 * `--broker embedded` (default) starts the cloud with its embedded broker (aedes, in the cloud
 * process); `--broker mosquitto` is the production topology: a real Mosquitto 2 with dynamic
 * security on a free port (`tests/support/mosquitto.ts`, the shipped config) and the cloud as its
 * dynsec admin, enrolling one dynsec client per device; the broker's RSS is reported too.
 * Mosquitto rewrites its whole dynsec file on every command, so enrollment there slows down as
 * the fleet grows (O(N²)); keep `--concurrency` around 20, or enrollments time out (503).
 * `--broker nats` starts a 3-node NATS JetStream cluster (`tests/support/nats_cluster.ts`) and the
 * cloud with `OUTPOST_BROKER=nats`: enrollment mints a JWT and writes nothing to the broker;
 * devices are spread over the three nodes' MQTT listeners; the nodes' RSS is reported (summed).
 *
 * Every device enrolls first (timed one by one: the summary compares the first and the last
 * 1,000 enrollments, which must cost the same), then every device connects (timed too).
 *
 * `--rate R` is readings per second per device (fractions allowed: 0.2 for 10 s is 2 records per
 * device; 0 sends none). The run stops after `--duration` seconds of traffic, then checks
 * presence: all N online in `GET /api/v1/devices` while running, all offline after the clients
 * said goodbye. Prints a progress line every second and a summary. Every process holds one socket
 * per device: the open-file limit (`ulimit -n`) is checked first.
 *
 * Devices carry labels (`--labels site=berlin|paris,role=gateway|sensor` spreads the values over
 * the fleet; every device also has `sim=true`) and answer like a real agent: a desired state is
 * checked with the agent's own rules and reported `applied` or `failed` with the reason, a
 * command is answered once per id; `--fail-percent P` makes P% of them fail (the same devices for
 * the same version or command, so a run's counts are exact). `--fleet-ops` then drives a rollout
 * and a job over the whole fleet, each against the same change done one device at a time through
 * the API (`tests/bench/fleet_ops.ts`).
 * @module
 */
import { type CliOption, type CliSpec, parseCli, requireValid } from "../support/cli.ts";
import mqtt, { type MqttClient } from "mqtt";
import { createLogger } from "@outpost/platform/log";
import { Ack, Command, decodeMessage, Desired, type Hello, type Status } from "@outpost/protocol";
import { parseTopic, topics } from "@outpost/protocol";
import { enroll } from "@outpost/agent/sync/enroll";
import { OutboxPublisher, type PublisherOutbox } from "@outpost/agent/sync/publisher";
import { checkDesired } from "@outpost/agent/sync/desired_settings";
import { parseLabelList } from "@outpost/protocol";
import { type FleetOpsResult, runFleetOps, type SimTallies } from "./fleet_ops.ts";
import type { OutboxRow, OutboxStats } from "@outpost/agent/store";
import { startMosquitto, startMosquittoCloud, type TestMosquitto } from "../support/mosquitto.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats_cluster.ts";
import {
  type CloudHandle,
  startCloud,
  TEST_ADMIN_TOKEN,
  TEST_ENROLL_TOKEN,
} from "../support/stack.ts";
import { componentPid, rssOf } from "./sync.ts";

/**
 * Records one device must have written after `elapsedMs` of traffic at `rate` per second: the
 * writer tops every device up to this count on each tick, so a fractional rate accumulates
 * exactly (0.2/s for 10 s gives 2) and late or skipped timer ticks are caught up.
 */
export function recordsDue(rate: number, elapsedMs: number): number {
  if (!(rate > 0) || !(elapsedMs > 0)) return 0;
  // The epsilon keeps 0.2 * 10 (= 1.9999999999999998 in floating point) at 2.
  return Math.floor((rate * elapsedMs) / 1000 + 1e-9);
}

/** The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits. */
export async function openFileLimit(): Promise<number | undefined> {
  try {
    const limits = await Deno.readTextFile("/proc/self/limits");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return undefined;
  }
}

/** Open files a process holding one socket per device needs, with room for the rest. */
export function openFilesNeeded(devices: number): number {
  return devices + 1_024;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return 0;
  }
}

/** An outbox in memory: the unacked suffix of a device's records. */
export class MemoryOutbox implements PublisherOutbox {
  #rows: OutboxRow[] = [];
  #lastSeq = 0;
  #ackedSeq = 0;
  #lastAckAt: string | null = null;
  #listeners = new Set<() => void>();

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Appends payloads (JSON objects without `seq`) and wakes the publisher. */
  append(payloads: string[]): void {
    for (const payload of payloads) this.#rows.push({ seq: ++this.#lastSeq, payload });
    for (const listener of this.#listeners) listener();
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  outboxStats(): Promise<OutboxStats> {
    return Promise.resolve({
      lastSeq: this.#lastSeq,
      ackedSeq: this.#ackedSeq,
      pending: this.#lastSeq - this.#ackedSeq,
      lastAckAt: this.#lastAckAt,
    });
  }

  readOutbox(afterSeq: number, limit: number): Promise<OutboxRow[]> {
    const first = this.#rows[0]?.seq ?? this.#lastSeq + 1;
    const start = Math.max(0, afterSeq + 1 - first);
    return Promise.resolve(this.#rows.slice(start, start + limit));
  }

  acknowledge(upTo: number): Promise<number> {
    const capped = Math.min(upTo, this.#lastSeq);
    if (capped > this.#ackedSeq) {
      this.#rows.splice(0, capped - this.#ackedSeq);
      this.#ackedSeq = capped;
      this.#lastAckAt = new Date().toISOString();
    }
    return Promise.resolve(this.#ackedSeq);
  }
}

const VERSION = "sim";
const logger = createLogger({ level: "error" });

/**
 * Labels of device `index` from a spec like `site=berlin|paris,role=gateway|sensor`: the first
 * key's values cycle fastest, each next key's once per full cycle of the keys before it, so every
 * combination appears. Every device also gets `sim=true`.
 */
export function simLabels(spec: string, index: number): Record<string, string> {
  const labels: Record<string, string> = { sim: "true" };
  let stride = 1;
  for (const item of spec.split(",").map((part) => part.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq < 1) throw new Error(`--labels: '${item}' is not key=value1|value2`);
    const values = item.slice(eq + 1).split("|");
    const key = item.slice(0, eq);
    labels[key] = values[Math.floor(index / stride) % values.length];
    stride *= values.length;
  }
  // The agent's own check: a spec the cloud would refuse fails here.
  parseLabelList(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(","));
  return labels;
}

/** FNV-1a of `text`, for deciding failures the same way in every run. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** True when device `id` fails `what` at `percent` (deterministic). */
export function simFails(id: string, what: string, percent: number): boolean {
  return percent > 0 && hash(`${id}:${what}`) % 10_000 < percent * 100;
}

/** One simulated device: enrollment, one MQTT connection, the agent's publisher. */
class SimDevice {
  readonly outbox = new MemoryOutbox();
  readonly publisher: OutboxPublisher;
  client: MqttClient | undefined;
  connected = false;
  desiredVersion = 0;
  appliedVersion = 0;
  readonly tallies: SimTallies = { applied: 0, failed: 0, succeeded: 0, commandsFailed: 0 };
  readonly #seen = new Set<string>();

  constructor(
    readonly id: string,
    readonly labels: Record<string, string>,
    readonly failPercent = 0,
  ) {
    this.publisher = new OutboxPublisher({
      store: this.outbox,
      deviceId: id,
      logger,
      publish: (topic, payload) => this.#publish(topic, payload, false),
      idlePollMs: 5_000,
    });
  }

  /** Answers a desired state as the agent does: newer versions only, checked, then reported. */
  #onDesired(message: Desired): void {
    if (message.version <= this.desiredVersion) return;
    this.desiredVersion = message.version;
    const check = checkDesired(message.desired);
    const reason = !check.ok
      ? check.reason
      : simFails(this.id, `desired:${message.version}`, this.failPercent)
      ? "simulated failure"
      : undefined;
    if (reason === undefined) this.appliedVersion = message.version;
    this.tallies[reason === undefined ? "applied" : "failed"]++;
    this.outbox.append([JSON.stringify({
      type: "reported",
      appliedVersion: this.appliedVersion,
      reported: { desiredVersion: message.version },
      ts: new Date().toISOString(),
      version: message.version,
      outcome: reason === undefined ? "applied" : "failed",
      ...(reason === undefined ? {} : { reason }),
    })]);
  }

  /** Answers a command once per id. */
  #onCommand(command: Command): void {
    if (this.#seen.has(command.id)) return;
    this.#seen.add(command.id);
    const fails = simFails(this.id, `cmd:${command.name}:${command.id}`, this.failPercent);
    this.tallies[fails ? "commandsFailed" : "succeeded"]++;
    this.outbox.append([JSON.stringify({
      type: "command_result",
      commandId: command.id,
      status: fails ? "failed" : "succeeded",
      ...(fails ? { error: "simulated failure" } : { result: { pong: true } }),
      ts: new Date().toISOString(),
    })]);
  }

  #helloAnswered: (() => void) | undefined;

  /**
   * Says hello as the agent does (the cloud answers with the ack position, the desired state and
   * open commands) and starts the publisher once answered, or after 5 s.
   */
  #greet(): void {
    const answered = new Promise<void>((resolve) => this.#helloAnswered = resolve);
    const hello: Hello = {
      v: 1,
      agentVersion: VERSION,
      outbox: { head: this.outbox.lastSeq, acked: this.outbox.ackedSeq },
      desiredVersion: this.desiredVersion,
    };
    this.#publish(topics.hello(this.id), JSON.stringify(hello), false).catch(() => {});
    Promise.race([answered, new Promise((resolve) => setTimeout(resolve, 5_000))]).then(() => {
      this.#helloAnswered = undefined;
      if (this.client?.connected) this.publisher.connected();
    });
  }

  #status(online: boolean): Status {
    return {
      online,
      version: VERSION,
      arch: Deno.build.arch,
      lastSeq: this.outbox.lastSeq,
      ts: new Date().toISOString(),
    };
  }

  #publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(new Error("not connected"));
    return new Promise((resolve, reject) =>
      client.publish(
        topic,
        payload,
        { qos: 1, retain },
        (error) => error ? reject(error) : resolve(),
      )
    );
  }

  /** Enrollment's answer, between {@link enroll} and {@link connect}. */
  #enrolled: Awaited<ReturnType<typeof enroll>> | undefined;
  /** How long enrollment took (ms), and in which place it finished among all devices. */
  enrollMs = 0;
  enrollOrder = -1;
  /** Enrolled to connected (ms). */
  connectMs = 0;

  async start(cloudUrl: string, token: string, mqttUrl?: string): Promise<void> {
    await this.enroll(cloudUrl, token);
    await this.connect(mqttUrl);
  }

  async enroll(cloudUrl: string, token: string): Promise<void> {
    const started = performance.now();
    this.#enrolled = await enroll({
      cloudUrl,
      token,
      deviceId: this.id,
      arch: Deno.build.arch,
      version: VERSION,
      labels: this.labels,
      timeoutMs: 60_000,
    });
    this.enrollMs = performance.now() - started;
  }

  async connect(mqttUrl?: string): Promise<void> {
    const response = this.#enrolled;
    if (!response) throw new Error(`${this.id} is not enrolled`);
    const started = performance.now();
    await this.publisher.start();
    const client = mqtt.connect(mqttUrl ?? response.mqtt.url, {
      clientId: this.id,
      username: response.mqtt.username,
      password: response.mqtt.password,
      protocolVersion: response.mqtt.protocolVersion,
      clean: false,
      keepalive: 60,
      connectTimeout: 30_000,
      reconnectPeriod: 2_000 + Math.floor(Math.random() * 3_000),
      will: {
        topic: topics.status(this.id),
        payload: Buffer.from(JSON.stringify(this.#status(false))),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    client.on("connect", () => {
      client.subscribe(topics.deviceDownlink(this.id), { qos: response.mqtt.downlinkQos }, () => {
        this.connected = true;
        this.#publish(topics.status(this.id), JSON.stringify(this.#status(true)), true)
          .catch(() => {});
        this.#greet();
      });
    });
    client.on("close", () => {
      if (this.connected) this.publisher.disconnected();
      this.connected = false;
    });
    client.on("error", () => {});
    client.on("message", (topic, payload, packet) => {
      const parsed = parseTopic(topic);
      if (parsed?.deviceId !== this.id || parsed.direction !== "down") return;
      if (parsed.kind === "ack") {
        const ack = decodeMessage(Ack, payload);
        if (!ack.ok) return;
        const stored = this.publisher.acknowledge(ack.value.upTo).catch(() => {});
        // As the agent: a retained ack may be stale; one sent to this connection answers hello.
        if (!packet.retain) stored.then(() => this.#helloAnswered?.());
      } else if (parsed.kind === "desired" && payload.byteLength > 0) {
        const desired = decodeMessage(Desired, payload);
        if (desired.ok) this.#onDesired(desired.value);
      } else if (parsed.kind === "cmd") {
        const command = decodeMessage(Command, payload);
        if (command.ok) this.#onCommand(command.value);
      }
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    this.connectMs = performance.now() - started;
  }

  /** Says goodbye like a stopping agent: retained offline status, then disconnect. */
  async stop(): Promise<void> {
    if (this.client?.connected) {
      await this.#publish(topics.status(this.id), JSON.stringify(this.#status(false)), true)
        .catch(() => {});
    }
    await this.client?.endAsync().catch(() => {});
    await this.publisher.stop();
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function fleetPresence(
  cloudUrl: string,
  adminToken: string,
  prefix: string,
): Promise<{ online: number; total: number }> {
  // One page of one device: the counts of every device with our prefix come with it.
  const response = await fetch(
    `${cloudUrl}/api/v1/devices?limit=1&q=${encodeURIComponent(prefix)}`,
    { headers: { authorization: `Bearer ${adminToken}` } },
  );
  const body = await response.json() as { counts: { online: number; total: number } };
  return { online: body.counts.online, total: body.counts.total };
}

async function waitPresence(
  cloudUrl: string,
  adminToken: string,
  prefix: string,
  check: (p: { online: number; total: number }) => boolean,
  timeoutMs: number,
): Promise<{ ok: boolean; ms: number; last: { online: number; total: number } }> {
  const start = performance.now();
  let last = { online: 0, total: 0 };
  while (performance.now() - start < timeoutMs) {
    last = await fleetPresence(cloudUrl, adminToken, prefix).catch(() => last);
    if (check(last)) return { ok: true, ms: performance.now() - start, last };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { ok: false, ms: performance.now() - start, last };
}

/** Which broker a self-started cloud runs with. */
export type SimBroker = "embedded" | "mosquitto" | "nats";

/** Mean and percentiles of some timings, in ms. */
export interface TimingSummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Summarizes timings (ms). */
export function summarizeTimings(values: number[]): TimingSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    count: sorted.length,
    meanMs: round(sorted.reduce((sum, v) => sum + v, 0) / (sorted.length || 1)),
    p50Ms: round(at(0.5)),
    p95Ms: round(at(0.95)),
    maxMs: round(sorted.at(-1) ?? 0),
  };
}

/** Options of {@link runSim}. */
export interface SimOptions {
  devices: number;
  /** Broker of the self-started cloud (ignored with `cloudUrl`); default embedded. */
  broker?: SimBroker;
  /** Readings per second per device. */
  rate: number;
  durationS: number;
  cloudUrl?: string;
  enrollToken?: string;
  adminToken?: string;
  /** Overrides the broker URL enrollment hands out. */
  mqttUrl?: string;
  /** Connections being set up at once. */
  concurrency?: number;
  prefix?: string;
  quiet?: boolean;
  /** `site=berlin|paris,role=gateway|sensor` (see {@link simLabels}). */
  labels?: string;
  /** Share of desired states and commands the devices fail (0–100). */
  failPercent?: number;
  /** Drive a rollout and a job over the fleet after it connected (see `fleet_ops.ts`). */
  fleetOps?: boolean;
}

/** Result of {@link runSim}. */
export interface SimResult {
  devices: number;
  connected: number;
  enrollAndConnectMs: number;
  /** Wall time of enrolling every device, and devices per second. */
  enrollMs: number;
  enrollPerSecond: number;
  /** Per-device enrollment time of the first and the last 1,000 to finish (flat is O(1)). */
  enrollFirst: TimingSummary;
  enrollLast: TimingSummary;
  /** Wall time of connecting every enrolled device, and each device's connect time. */
  connectAllMs: number;
  connect: TimingSummary;
  recordsWritten: number;
  recordsSent: number;
  recordsAcked: number;
  ackedPerSecond: number;
  allOnline: boolean;
  onlineSeen: number;
  allOfflineAfterStop: boolean;
  offlineAfterMs: number;
  broker: SimBroker | "external";
  cloudRssMaxBytes: number | undefined;
  /** The cloud process's CPU time during the run (enrollment, connections, ingest). */
  cloudCpuSeconds: number | undefined;
  /** The broker's RSS (`--broker mosquitto`; `nats`: the three nodes summed). */
  brokerRssMaxBytes: number | undefined;
  simRssMaxBytes: number;
  /** With `fleetOps`: the rollout and the job against their one-device-at-a-time baselines. */
  fleetOps?: FleetOpsResult;
}

/** Runs the simulation; starts (and stops) its own cloud when `cloudUrl` is not given. */
export async function runSim(options: SimOptions): Promise<SimResult> {
  let cloud: CloudHandle | undefined;
  let mosquitto: TestMosquitto | undefined;
  let nats: NatsCluster | undefined;
  const say = (line: string) => options.quiet || console.error(line);
  const brokerKind = options.cloudUrl ? "external" : options.broker ?? "embedded";
  const limit = await openFileLimit();
  const needed = openFilesNeeded(options.devices);
  if (limit !== undefined && limit < needed) {
    throw new Error(
      `${options.devices} devices need ${needed} open files in this process and in the ${
        brokerKind === "mosquitto" ? "broker" : "cloud"
      } (one socket per device), but \`ulimit -n\` is ${limit}: run \`ulimit -n ${needed}\` (or more; ` +
        `raise the hard limit in /etc/security/limits.conf or with \`prlimit --nofile=${needed}\` ` +
        `if that is refused) in the shell that runs the simulator`,
    );
  }
  if (!options.cloudUrl && brokerKind === "mosquitto") {
    say("starting Mosquitto (dynamic security) and a cloud (libSQL) as its dynsec admin…");
    mosquitto = await startMosquitto();
    try {
      // Info level: startMosquittoCloud waits for the "subscribed to uplink" line.
      cloud = await startMosquittoCloud(mosquitto, { env: { OUTPOST_LOG_LEVEL: "info" } });
    } catch (error) {
      await mosquitto.dispose();
      throw error;
    }
  } else if (!options.cloudUrl && brokerKind === "nats") {
    say("starting a 3-node NATS JetStream cluster and a cloud (libSQL) with OUTPOST_BROKER=nats…");
    nats = await startNatsCluster({ nodes: 3 });
    try {
      cloud = await startCloud({ env: { ...nats.cloudEnv(), OUTPOST_LOG_LEVEL: "warn" } });
    } catch (error) {
      await nats.stop();
      throw error;
    }
  } else if (!options.cloudUrl) {
    say("starting a cloud (embedded broker, libSQL)…");
    cloud = await startCloud({ env: { OUTPOST_LOG_LEVEL: "warn" } });
  }
  const cloudUrl = options.cloudUrl ?? cloud!.url;
  const enrollToken = options.enrollToken ?? TEST_ENROLL_TOKEN;
  const adminToken = options.adminToken ?? TEST_ADMIN_TOKEN;
  const prefix = options.prefix ?? `sim-${Date.now().toString(36)}-`;
  const cloudPid = cloud ? await componentPid(cloud.process.pid, "cloud/main.ts") : undefined;
  const brokerPids = mosquitto
    ? [await mosquittoPid(mosquitto)].filter((pid): pid is number => pid !== undefined)
    : nats
    ? nats.nodes.map((node) => node.process!.pid)
    : [];
  const brokerPid = brokerPids[0];
  const cloudCpuAtStart = cloudPid ? await cpuSecondsOf(cloudPid) : 0;
  const devices = Array.from(
    { length: options.devices },
    (_, i) =>
      new SimDevice(
        `${prefix}${String(i).padStart(5, "0")}`,
        simLabels(options.labels ?? "", i),
        options.failPercent ?? 0,
      ),
  );
  let cloudRssMaxBytes = 0;
  let brokerRssMaxBytes = 0;
  let simRssMaxBytes = 0;
  const sampleRss = async () => {
    if (cloudPid) cloudRssMaxBytes = Math.max(cloudRssMaxBytes, await rssOf(cloudPid));
    if (brokerPids.length) {
      let sum = 0;
      for (const pid of brokerPids) sum += await rssOf(pid).catch(() => 0);
      brokerRssMaxBytes = Math.max(brokerRssMaxBytes, sum);
    }
    simRssMaxBytes = Math.max(simRssMaxBytes, Deno.memoryUsage().rss);
  };
  let lastAcked = 0;
  let lastAt = performance.now();
  const totals = () => {
    let sent = 0;
    let acked = 0;
    let written = 0;
    let connected = 0;
    for (const device of devices) {
      sent += device.publisher.stats.recordsSent;
      acked += device.outbox.ackedSeq;
      written += device.outbox.lastSeq;
      if (device.connected) connected++;
    }
    return { sent, acked, written, connected };
  };
  const progress = setInterval(async () => {
    await sampleRss();
    const t = totals();
    const now = performance.now();
    const rate = (t.acked - lastAcked) / ((now - lastAt) / 1000);
    lastAcked = t.acked;
    lastAt = now;
    say(
      `devices ${t.connected}/${devices.length} connected | written ${t.written} sent ${t.sent} ` +
        `acked ${t.acked} | ${Math.round(rate)} acked/s | cloud RSS ${
          cloudPid ? `${(cloudRssMaxBytes / 1e6).toFixed(0)} MB max` : "n/a"
        }${
          brokerPid ? ` | ${brokerKind} RSS ${(brokerRssMaxBytes / 1e6).toFixed(0)} MB max` : ""
        }` +
        ` | sim RSS ${(Deno.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
  }, 1000);
  let writer: ReturnType<typeof setInterval> | undefined;
  // Ctrl-C (or a timeout's SIGTERM) must not leave the cloud and the broker running.
  const interrupted = async () => {
    say("interrupted: stopping the cloud and the broker");
    await cloud?.process.stop().catch(() => {});
    await mosquitto?.dispose().catch(() => {});
    await nats?.stop().catch(() => {});
    Deno.exit(130);
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) Deno.addSignalListener(signal, interrupted);
  try {
    const enrollStart = performance.now();
    let failures = 0;
    let finished = 0;
    const enrolled: SimDevice[] = [];
    await pool(devices, options.concurrency ?? 100, async (device) => {
      try {
        await device.enroll(cloudUrl, enrollToken);
        device.enrollOrder = finished++;
        enrolled.push(device);
      } catch (error) {
        if (failures++ < 5) {
          say(`device ${device.id} failed to enroll: ${(error as Error).message}`);
        }
      }
    });
    const enrollMs = performance.now() - enrollStart;
    const byOrder = enrolled.map((device) => device.enrollMs);
    const enrollFirst = summarizeTimings(byOrder.slice(0, 1000));
    const enrollLast = summarizeTimings(byOrder.slice(-1000));
    say(
      `enrolled ${enrolled.length} in ${(enrollMs / 1000).toFixed(1)} s; per device: first 1,000 ` +
        `p50 ${enrollFirst.p50Ms} ms, last 1,000 p50 ${enrollLast.p50Ms} ms`,
    );
    const connectStart = performance.now();
    // Spread over the cluster's nodes unless one URL is forced.
    const urls = options.mqttUrl ? [options.mqttUrl] : nats?.mqttUrls;
    await pool(enrolled, options.concurrency ?? 100, async (device) => {
      try {
        await device.connect(urls?.[device.enrollOrder % urls.length]);
      } catch (error) {
        if (failures++ < 5) {
          say(`device ${device.id} failed to connect: ${(error as Error).message}`);
        }
      }
    });
    const connectAllMs = performance.now() - connectStart;
    const connectTimes = summarizeTimings(
      enrolled.filter((device) => device.connectMs > 0).map((device) => device.connectMs),
    );
    const enrollAndConnectMs = performance.now() - enrollStart;
    say(
      `connected in ${
        (connectAllMs / 1000).toFixed(1)
      } s (per device p50 ${connectTimes.p50Ms} ms, p95 ${connectTimes.p95Ms} ms)`,
    );
    const online = await waitPresence(
      cloudUrl,
      adminToken,
      prefix,
      (p) => p.online === devices.length,
      30_000,
    );
    say(
      `presence: ${online.last.online}/${devices.length} online (${online.ok ? "ok" : "NOT ALL"})`,
    );
    let fleetOps: FleetOpsResult | undefined;
    if (options.fleetOps) {
      fleetOps = await runFleetOps({
        cloudUrl,
        adminToken,
        devices,
        selector: `sim=true`,
        idPrefix: prefix,
        failPercent: options.failPercent ?? 0,
        say,
        cloudRss: async () => (cloudPid ? await rssOf(cloudPid) : undefined),
      });
    }

    // Readings: every device gets `rate` per second, topped up every 100 ms to what is due.
    const ts = new Date().toISOString();
    const tickMs = 100;
    const durationMs = options.durationS * 1000;
    const trafficStart = performance.now();
    const ackedAtStart = totals().acked;
    let writtenPerDevice = 0;
    const write = (elapsedMs: number) => {
      const n = recordsDue(options.rate, Math.min(elapsedMs, durationMs)) - writtenPerDevice;
      if (n <= 0) return;
      writtenPerDevice += n;
      for (const device of devices) {
        const payloads: string[] = [];
        for (let i = 0; i < n; i++) {
          payloads.push(
            `{"type":"reading","sensor":"s${
              i % 4
            }","value":${Math.random()},"unit":"C","ts":"${ts}"}`,
          );
        }
        device.outbox.append(payloads);
      }
    };
    writer = setInterval(() => write(performance.now() - trafficStart), tickMs);
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    clearInterval(writer);
    writer = undefined;
    write(durationMs); // what the last, partial tick owed
    // Drain what was written (bounded).
    const drainDeadline = performance.now() + 30_000;
    while (performance.now() < drainDeadline) {
      const t = totals();
      if (t.acked >= t.written) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const trafficMs = performance.now() - trafficStart;
    const final = totals();
    if (final.acked < final.written && cloud) {
      say(`not everything was acked; the cloud's last lines:`);
      say(cloud.process.output.slice(-30).join("\n"));
    }
    await sampleRss();
    say("stopping the clients…");
    await pool(devices, 500, (device) => device.stop());
    const offline = await waitPresence(cloudUrl, adminToken, prefix, (p) => p.online === 0, 30_000);
    say(
      `presence after stop: ${offline.last.online} still online (${offline.ok ? "ok" : "NOT ALL"})`,
    );
    return {
      devices: devices.length,
      connected: final.connected,
      enrollAndConnectMs,
      enrollMs,
      enrollPerSecond: enrolled.length / (enrollMs / 1000),
      enrollFirst,
      enrollLast,
      connectAllMs,
      connect: connectTimes,
      recordsWritten: final.written,
      recordsSent: final.sent,
      recordsAcked: final.acked,
      ackedPerSecond: (final.acked - ackedAtStart) / (trafficMs / 1000),
      allOnline: online.ok,
      onlineSeen: online.last.online,
      allOfflineAfterStop: offline.ok,
      offlineAfterMs: offline.ms,
      broker: brokerKind,
      cloudRssMaxBytes: cloudPid ? cloudRssMaxBytes : undefined,
      cloudCpuSeconds: cloudPid ? (await cpuSecondsOf(cloudPid)) - cloudCpuAtStart : undefined,
      brokerRssMaxBytes: brokerPids.length ? brokerRssMaxBytes : undefined,
      simRssMaxBytes,
      ...(fleetOps ? { fleetOps } : {}),
    };
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, interrupted);
    clearInterval(progress);
    if (writer) clearInterval(writer);
    await Promise.all(devices.map((device) => device.stop().catch(() => {})));
    if (cloud) {
      await cloud.process.stop();
      await Deno.remove(cloud.dataDir, { recursive: true }).catch(() => {});
    }
    await mosquitto?.dispose();
    await nats?.stop();
  }
}

/** The pid of the mosquitto started by {@link startMosquitto} (its data dir is unique). */
async function mosquittoPid(broker: TestMosquitto): Promise<number | undefined> {
  const out = await new Deno.Command("pgrep", { args: ["-f", `mosquitto -c ${broker.dir}/`] })
    .output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim().split("\n")[0]);
  return pid > 0 ? pid : undefined;
}

/** The simulator's flags; `deno task sim --help` prints them. */
export const SIM_CLI = {
  command: "deno task sim",
  summary: "Fleet simulator: N device clients in one process, speaking the agent's protocol " +
    "with its own enrollment and publisher code, against a cloud it starts or a running one.",
  options: {
    devices: { type: "string", default: "100", value: "n", help: "Devices to enroll and run." },
    broker: {
      type: "string",
      default: "embedded",
      value: "embedded|mosquitto|nats",
      help: "The cloud's broker when the simulator starts the cloud: its embedded broker, " +
        "a real Mosquitto 2 with dynamic security (needs the mosquitto package), or a 3-node " +
        "NATS JetStream cluster (needs the nats-server package).",
    },
    rate: {
      type: "string",
      default: "1",
      value: "per-second",
      help: "Readings per second per device (fractions allowed).",
    },
    duration: {
      type: "string",
      default: "20",
      value: "seconds",
      help: "Seconds of traffic before the clients say goodbye.",
    },
    concurrency: {
      type: "string",
      default: "100",
      value: "n",
      help: "Enrollments in flight at once (keep it near 20 with --broker mosquitto).",
    },
    cloud: {
      type: "string",
      value: "url",
      help: "A running cloud to target instead of starting one (needs the two tokens).",
    },
    "enroll-token": {
      type: "string",
      value: "token",
      env: "OUTPOST_ENROLL_TOKEN",
      help: "That cloud's enrollment token.",
    },
    "admin-token": {
      type: "string",
      value: "token",
      env: "OUTPOST_ADMIN_TOKEN",
      help: "That cloud's admin token (to check presence).",
    },
    "mqtt-url": {
      type: "string",
      value: "url",
      help: "Broker URL overriding the one enrollment returns.",
    },
    labels: {
      type: "string",
      default: "",
      value: "k=a|b,…",
      help: "Labels spread over the fleet (site=berlin|paris,role=gateway|sensor); every " +
        "device also has sim=true.",
    },
    "fail-percent": {
      type: "string",
      default: "0",
      value: "p",
      help: "Share of devices that fail a desired state or a command (the same ones each time).",
    },
    "fleet-ops": {
      type: "boolean",
      help: "Then drive a rollout and a job over the fleet, each against the same change done " +
        "one device at a time through the API.",
    },
  },
  notes: [
    "Prints a progress line every second and a JSON summary; exits 0 when every device " +
    "connected, was seen online and then offline, and every record was acked. More than ~100 " +
    "devices: run it under flock /tmp/outpost-heavy.lock on a shared machine. Docs: " +
    "docs/PERFORMANCE.md.",
  ],
} satisfies CliSpec<Record<string, CliOption>>;

if (import.meta.main) {
  const values = parseCli(SIM_CLI);
  const numbers = { devices: 1, rate: 0, duration: 0, concurrency: 1 } as const;
  for (const [flag, min] of Object.entries(numbers)) {
    const value = Number(values[flag as keyof typeof numbers]);
    requireValid(
      SIM_CLI,
      Number.isFinite(value) && value >= min,
      `--${flag} must be a number ≥ ${min}`,
    );
  }
  requireValid(
    SIM_CLI,
    ["embedded", "mosquitto", "nats"].includes(values.broker),
    `--broker must be embedded, mosquitto or nats, not '${values.broker}'`,
  );
  let result: SimResult;
  try {
    result = await runSim({
      devices: Number(values.devices),
      broker: values.broker as SimBroker,
      rate: Number(values.rate),
      durationS: Number(values.duration),
      cloudUrl: values.cloud,
      enrollToken: values["enroll-token"] ?? Deno.env.get("OUTPOST_ENROLL_TOKEN"),
      adminToken: values["admin-token"] ?? Deno.env.get("OUTPOST_ADMIN_TOKEN"),
      mqttUrl: values["mqtt-url"],
      concurrency: Number(values.concurrency),
      labels: values.labels,
      failPercent: Number(values["fail-percent"]),
      fleetOps: values["fleet-ops"],
    });
  } catch (error) {
    console.error(`sim: ${(error as Error).message}`);
    Deno.exit(2);
  }
  console.log(JSON.stringify(result, null, 2));
  const ok = result.connected === result.devices && result.allOnline &&
    result.allOfflineAfterStop && result.recordsAcked === result.recordsWritten &&
    (result.fleetOps === undefined || (result.fleetOps.rollout.exact && result.fleetOps.job.exact));
  Deno.exit(ok ? 0 : 1);
}
