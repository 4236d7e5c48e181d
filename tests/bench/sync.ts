/**
 * Sync benchmarks for `deno task bench`: end-to-end sync (agent outbox → broker → cloud DB →
 * ack back) against a raw cloud insert (`CloudStore.commitBatch` directly) in the same run, and
 * the catch-up of a backlog written while the cloud was down.
 * @module
 */
import { openCloudStore } from "@outpost/cloud/store/open";
import type { Batch } from "@outpost/protocol";
import { startMosquitto, startMosquittoCloud } from "../support/mosquitto.ts";
import { startPostgres } from "../support/postgres.ts";
import {
  type AgentHandle,
  type CloudHandle,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";
import { postJson } from "../support/process.ts";
import { agentRecords, cloudRecords, compareRecords } from "../support/verify.ts";

/** Which cloud database a run uses. */
export type Backend = "libsql" | "postgres";

/** Resident set size of a process, in bytes (0 when it is gone). */
export async function rssOf(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process used so far, in seconds (0 when it is gone). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second here).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The deno process running `script` inside the process group of `deno task` (the leader). */
export async function componentPid(groupLeader: number, script: string): Promise<number> {
  const out = await new Deno.Command("pgrep", { args: ["-g", String(groupLeader), "-f", script] })
    .output();
  const pids = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number).filter(Boolean);
  return pids.at(-1) ?? groupLeader;
}

interface SyncView {
  state: string;
  pending: number;
  lastSeq: number;
  ackedSeq: number;
}

async function syncView(agent: AgentHandle): Promise<SyncView> {
  const response = await fetch(`${agent.url}/api/v1/sync`);
  return await response.json();
}

/** Polls until `check(view)` holds; returns the time it held (performance.now()). */
async function waitSync(
  agent: AgentHandle,
  check: (view: SyncView) => boolean,
  timeoutMs: number,
  what: string,
  pollMs = 20,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last: SyncView | undefined;
  while (performance.now() < deadline) {
    last = await syncView(agent);
    if (check(last)) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

/** Writes `count` readings into the agent in POSTs of 10,000. */
async function writeReadings(agent: AgentHandle, count: number): Promise<void> {
  for (let done = 0; done < count; done += 10_000) {
    const n = Math.min(10_000, count - done);
    const response = await postJson(
      `${agent.url}/api/v1/readings`,
      Array.from({ length: n }, (_, i) => ({ sensor: `s${i % 4}`, value: done + i, unit: "C" })),
    );
    if (response.status !== 201) throw new Error(`ingest answered ${response.status}`);
  }
}

/** Rows/s of `commitBatch` with 1,000-record batches straight into a fresh cloud database. */
export async function rawCloudInsertRowsPerSecond(
  location: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string },
  rowsTotal: number,
): Promise<number> {
  const opened = await openCloudStore(location);
  try {
    await opened.store.enrollDevice({ id: "raw", passwordHash: "x" });
    const ts = new Date().toISOString();
    const start = performance.now();
    for (let from = 1; from <= rowsTotal; from += 1000) {
      const to = Math.min(rowsTotal, from + 999);
      const records = Array.from({ length: to - from + 1 }, (_, i) => ({
        seq: from + i,
        type: "reading" as const,
        sensor: `s${i % 4}`,
        value: from + i,
        unit: "C",
        ts,
      }));
      const batch: Batch = { from, to, records };
      await opened.store.commitBatch("raw", batch);
    }
    return rowsTotal / ((performance.now() - start) / 1000);
  } finally {
    await opened.handle.close();
  }
}

/** Result of {@link endToEndSync}. */
export interface EndToEndResult {
  rowsPerSecond: number;
  rawRowsPerSecond: number;
  lost: number;
  duplicates: number;
  /** How long writing the rows into the agent took (the sync runs meanwhile). */
  writeMs: number;
  /** Rows still pending in the agent's outbox when the last write answered. */
  pendingAfterWrite: number;
  /** CPU seconds the agent and the cloud process used from the first write to the last ack. */
  agentCpuSeconds: number;
  cloudCpuSeconds: number;
  /** Batches the cloud accepted, by result (`stored`, `duplicate`): resends show here. */
  cloudBatches: Record<string, number>;
}

/** `outpost_ingest_batches_total` of a cloud, by result. */
async function ingestedBatches(cloudUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${cloudUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^outpost_ingest_batches_total\{result="(\w+)"\} (\d+)/gm)) {
    counts[match[1]] = Number(match[2]);
  }
  return counts;
}

/**
 * Real Mosquitto (dynsec) + a cloud process on `backend` + an agent process. Writes `rows`
 * readings into the connected agent and times from the first write until every row is acked;
 * the raw baseline commits the same number of rows into a fresh database of the same kind.
 */
export async function endToEndSync(backend: Backend, rows: number): Promise<EndToEndResult> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    let env: Record<string, string> = {};
    let rawLocation: Parameters<typeof rawCloudInsertRowsPerSecond>[0];
    const rawDir = await Deno.makeTempDir({ prefix: "outpost-bench-raw-" });
    cleanups.push(() => Deno.remove(rawDir, { recursive: true }));
    let cloudUrl = "";
    if (backend === "postgres") {
      const server = await startPostgres();
      cleanups.push(() => server.stop());
      cloudUrl = await server.createDatabase("cloud");
      env = { DATABASE_URL: cloudUrl };
      rawLocation = { kind: "postgres", url: await server.createDatabase("raw") };
    } else {
      rawLocation = { kind: "sqlite", path: `${rawDir}/raw.db` };
    }
    const rawRowsPerSecond = await rawCloudInsertRowsPerSecond(rawLocation, rows);

    const cloud = await startMosquittoCloud(broker, { env });
    cleanups.push(() =>
      cloud.process.stop().then(() => Deno.remove(cloud.dataDir, { recursive: true }))
    );
    const agent = await startAgentProcess({
      deviceId: "bench1",
      cloudUrl: cloud.url,
      env: { OUTPOST_LOG_LEVEL: "warn" },
    });
    cleanups.push(() =>
      agent.process.stop().then(() => Deno.remove(agent.dataDir, { recursive: true }))
    );
    await waitSync(agent, (view) => view.state === "online", 30_000, "the agent to connect");
    const agentPid = await componentPid(agent.process.pid, "agent/main.ts");
    const cloudPid = await componentPid(cloud.process.pid, "cloud/main.ts");
    const agentCpu = await cpuSecondsOf(agentPid);
    const cloudCpu = await cpuSecondsOf(cloudPid);
    const start = performance.now();
    await writeReadings(agent, rows);
    const writeMs = performance.now() - start;
    const pendingAfterWrite = (await syncView(agent)).pending;
    const end = await waitSync(
      agent,
      (view) => view.lastSeq >= rows && view.pending === 0,
      120_000,
      "every row to be acked",
    );
    const agentCpuSeconds = await cpuSecondsOf(agentPid) - agentCpu;
    const cloudCpuSeconds = await cpuSecondsOf(cloudPid) - cloudCpu;
    const cloudBatches = await ingestedBatches(cloud.url);
    let lost = 0;
    let duplicates = 0;
    if (backend === "libsql") {
      const cloudSide = cloudRecords(cloud.dataDir, agent.deviceId);
      const compared = compareRecords(agentRecords(agent.dataDir), cloudSide.map);
      lost = compared.lost.length + compared.mismatched.length;
      duplicates = cloudSide.duplicates.length;
    }
    return {
      rowsPerSecond: rows / ((end - start) / 1000),
      rawRowsPerSecond,
      lost,
      duplicates,
      writeMs,
      pendingAfterWrite,
      agentCpuSeconds,
      cloudCpuSeconds,
      cloudBatches,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

/** Result of {@link catchUp}. */
export interface CatchUpResult {
  /** From the cloud's /readyz answering to pending = 0. */
  fromCloudReadyMs: number;
  /** From the agent reporting `online` again to pending = 0 (without its reconnect backoff). */
  fromReconnectMs: number;
  writeMs: number;
  agentRssMaxBytes: number;
  cloudRssMaxBytes: number;
}

/**
 * Catch-up with the embedded broker on libSQL: the agent enrolls, the cloud goes down, `rows`
 * readings are written, the cloud comes back; times the drain and samples both RSS.
 */
export async function catchUp(rows: number): Promise<CatchUpResult> {
  let cloud: CloudHandle | undefined;
  let agent: AgentHandle | undefined;
  try {
    cloud = await startCloud({ env: { OUTPOST_LOG_LEVEL: "warn" } });
    agent = await startAgentProcess({
      deviceId: "catchup1",
      cloudUrl: cloud.url,
      // A short backoff cap would flatter the figure; the agent's defaults are kept.
      env: { OUTPOST_LOG_LEVEL: "warn" },
    });
    const view = agent;
    await waitSync(view, (v) => v.state === "online", 30_000, "the agent to connect");
    await cloud.process.stop();
    await waitSync(view, (v) => v.state !== "online", 30_000, "the agent to notice", 100);
    const writeStart = performance.now();
    await writeReadings(agent, rows);
    const writeMs = performance.now() - writeStart;
    const agentPid = await componentPid(agent.process.pid, "agent/main.ts");
    await cloud.restart();
    const ready = performance.now();
    const cloudPid = await componentPid(cloud.process.pid, "cloud/main.ts");
    let agentRssMaxBytes = 0;
    let cloudRssMaxBytes = 0;
    let reconnected = 0;
    const sample = async () => {
      agentRssMaxBytes = Math.max(agentRssMaxBytes, await rssOf(agentPid));
      cloudRssMaxBytes = Math.max(cloudRssMaxBytes, await rssOf(cloudPid));
    };
    const sampler = setInterval(sample, 100);
    const end = await waitSync(
      view,
      (v) => {
        if (!reconnected && v.state === "online") reconnected = performance.now();
        return v.pending === 0 && v.lastSeq >= rows;
      },
      600_000,
      "the backlog to drain",
      50,
    ).finally(() => clearInterval(sampler));
    await sample();
    return {
      fromCloudReadyMs: end - ready,
      fromReconnectMs: end - (reconnected || ready),
      writeMs,
      agentRssMaxBytes,
      cloudRssMaxBytes,
    };
  } finally {
    await agent?.process.stop();
    await cloud?.process.stop();
    if (agent) await Deno.remove(agent.dataDir, { recursive: true }).catch(() => {});
    if (cloud) await Deno.remove(cloud.dataDir, { recursive: true }).catch(() => {});
  }
}
