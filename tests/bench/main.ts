/**
 * `deno task bench`: each benchmark is a ratio against a baseline measured in the same run.
 * Prints a table and writes bench-results.json. `--smoke` runs tiny counts (CI keeps it from
 * rotting; its figures mean nothing). `--only sync` runs just the end-to-end sync rows (to iterate
 * on the sync pipeline; writes bench-results-sync.json), optionally with `--backend libsql|postgres`
 * and `--sync-rows N`. `--only fleet` runs just the fleet rows (device list at scale on both
 * databases, rollout and job over simulated devices; writes bench-results-fleet.json), with
 * `--fleet-devices N` (the list, default 100,000) and `--sim-devices N` (default 10,000).
 * @module
 */
import { parseCli, requireValid } from "../support/cli.ts";
import { sql } from "kysely";
import { openSqlite, transact } from "@outpost/platform/sqlite";
import {
  freePort,
  postJson,
  REPO_ROOT,
  spawnProcess,
  startTask,
  waitForOk,
} from "../support/process.ts";
import { type OpenLoopResult, runOpenLoop } from "./load.ts";
import {
  compareHttp,
  type HttpComparison,
  startBareServer,
  startNginxCeiling,
  startRawIngestServer,
} from "./http_bench.ts";
import { runWrk, type WrkResult } from "./wrk.ts";
import { describeSplit, type MemorySplit, memorySplit } from "./memory.ts";
import { AGENT_RUNTIME_FLAGS } from "@outpost/platform/runtime_flags";
import { catchUp, componentPid, endToEndSync } from "./sync.ts";
import { tracingCost } from "./tracing.ts";
import { deviceListBench, fleetOpsBench, LIST_SELECTOR } from "./fleet.ts";

interface Row {
  name: string;
  figure: number;
  unit: string;
  baseline: number;
  baselineName: string;
  /** subject / baseline; null when refused (see `refused`). */
  ratio: number | null;
  /** The load generator's ceiling for this traffic, same unit (HTTP rows). */
  ceiling?: number;
  /** Why no ratio is given. */
  refused?: string;
  note?: string;
}

const BENCH_CLI = {
  command: "deno task bench",
  summary: "Benchmarks, each a ratio against a baseline measured in the same run; prints a " +
    "table and writes bench-results.json.",
  options: {
    smoke: {
      type: "boolean",
      help: "Tiny counts, for CI to keep the benchmarks from rotting (figures mean nothing).",
    },
    only: {
      type: "string",
      value: "sync|fleet|agent",
      help: "Run only the end-to-end sync rows (writes bench-results-sync.json), the fleet rows " +
        "(device list at scale, rollout and job; bench-results-fleet.json) or the agent's rows " +
        "(HTTP from wrk, footprint, tracing cost; bench-results-agent.json).",
    },
    backend: {
      type: "string",
      value: "libsql|postgres",
      help: "With --only sync: only this cloud database (default: both; PostgreSQL needs the " +
        "postgresql package).",
    },
    "sync-rows": {
      type: "string",
      value: "n",
      help: "Rows of the end-to-end sync rows (default 500,000; 20,000 with --smoke).",
    },
    "fleet-devices": {
      type: "string",
      value: "n",
      help: "With --only fleet: devices in the list benchmark (default 100,000).",
    },
    "sim-devices": {
      type: "string",
      value: "n",
      help: "With --only fleet: simulated devices of the rollout and job (default 10,000).",
    },
  },
  notes: [
    "Run it under flock /tmp/outpost-heavy.lock on a shared machine. Method and last figures: " +
    "docs/PERFORMANCE.md.",
  ],
} as const;
const values = parseCli(BENCH_CLI);
const smoke = values.smoke;
requireValid(
  BENCH_CLI,
  values.only === undefined || ["sync", "fleet", "agent"].includes(values.only),
  `--only: expected sync, fleet or agent, got '${values.only}'`,
);
requireValid(
  BENCH_CLI,
  values.backend === undefined || values.backend === "libsql" || values.backend === "postgres",
  `--backend: expected libsql or postgres, got '${values.backend}'`,
);
requireValid(
  BENCH_CLI,
  values["sync-rows"] === undefined || Number(values["sync-rows"]) > 0,
  `--sync-rows: expected a positive number, got '${values["sync-rows"]}'`,
);
for (const flag of ["fleet-devices", "sim-devices"] as const) {
  requireValid(
    BENCH_CLI,
    values[flag] === undefined || Number(values[flag]) > 0,
    `--${flag}: expected a positive number, got '${values[flag]}'`,
  );
}
/** True when only the end-to-end sync rows run (`--only sync`). */
const syncOnly = values.only === "sync";
/** True when only the fleet rows run (`--only fleet`). */
const fleetOnly = values.only === "fleet";
/** True when only the agent's rows run (`--only agent`). */
const agentOnly = values.only === "agent";
const rows: Row[] = [];

function record(row: Omit<Row, "ratio">): void {
  const full = {
    ...row,
    ratio: row.refused !== undefined ? null : row.baseline ? row.figure / row.baseline : 0,
  };
  rows.push(full);
  const ceiling = row.ceiling === undefined ? "" : `, generator ceiling ${fmt(row.ceiling)}`;
  console.error(
    `  ${row.name}: ${fmt(row.figure)} ${row.unit} vs ${row.baselineName} ${
      fmt(row.baseline)
    }${ceiling} → ${full.ratio === null ? `no ratio: ${row.refused}` : full.ratio.toFixed(2)}`,
  );
}

/** Records one HTTP comparison; `per` converts requests to the unit (e.g. rows per request). */
function recordHttp(
  name: string,
  comparison: HttpComparison,
  options: {
    unit?: string;
    per?: number;
    connections?: number;
    baselineName: string;
    note?: string;
  },
): void {
  const per = options.per ?? 1;
  const latency = (label: string, result: WrkResult) =>
    `${label} p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`;
  record({
    name,
    figure: comparison.subject.perSecond * per,
    unit: options.unit ?? "req/s",
    baseline: comparison.baseline.perSecond * per,
    baselineName: options.baselineName,
    ceiling: comparison.ceiling.perSecond * per,
    refused: comparison.refused,
    note: [
      latency("subject", comparison.subject),
      latency("baseline", comparison.baseline),
      `wrk -t1 -c${options.connections ?? HTTP_CONNECTIONS} -d${loadSeconds}s`,
      ...(options.note ? [options.note] : []),
    ].join("; "),
  });
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2);
}

async function rawInsertRowsPerSecond(rowsTotal: number): Promise<number> {
  const dir = await Deno.makeTempDir();
  const handle = openSqlite<
    {
      r: {
        seq: number;
        sensor: string;
        value: number;
        unit: string;
        ts: number;
        received_at: number;
      };
    }
  >(
    `${dir}/raw.db`,
  );
  try {
    await sql`CREATE TABLE r (seq INTEGER PRIMARY KEY, sensor TEXT, value REAL, unit TEXT, ts INTEGER, received_at INTEGER)`
      .execute(handle.db);
    const start = performance.now();
    for (let done = 0; done < rowsTotal; done += 10_000) {
      await transact(handle.db, async (tx) => {
        for (let i = 0; i < 10_000; i += 1000) {
          const chunk = Array.from({ length: 1000 }, (_, j) => ({
            seq: done + i + j + 1,
            sensor: "s",
            value: j,
            unit: "C",
            ts: Date.now(),
            received_at: Date.now(),
          }));
          await tx.insertInto("r").values(chunk).execute();
        }
      });
    }
    return rowsTotal / ((performance.now() - start) / 1000);
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function agentIngestRowsPerSecond(base: string, rowsTotal: number): Promise<number> {
  const body = readingsBody(10_000);
  const start = performance.now();
  for (let done = 0; done < rowsTotal; done += 10_000) {
    const response = await fetch(`${base}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    if (response.status !== 201) throw new Error(`ingest answered ${response.status}`);
    await response.body?.cancel();
  }
  return rowsTotal / ((performance.now() - start) / 1000);
}

/** Resident memory of a bare `Deno.serve` with the agent's runtime flags, idle. */
async function bareDenoIdle(): Promise<MemorySplit> {
  const port = freePort();
  const process = spawnProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    ...AGENT_RUNTIME_FLAGS,
    "tests/bench/bare_server.ts",
    String(port),
    "deno.json",
    "application/json",
  ], { cwd: REPO_ROOT });
  try {
    await waitForOk(`http://127.0.0.1:${port}/`, 30_000, process);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return await memorySplit(process.pid);
  } finally {
    await process.stop();
  }
}

/** Readings as a client would post them: `perRequest` of four sensors. */
function readingsBody(perRequest: number): string {
  return JSON.stringify(
    Array.from({ length: perRequest }, (_, i) => ({ sensor: `s${i % 4}`, value: i, unit: "C" })),
  );
}

/**
 * The open-loop sender's schedule, checked: latency counts from the scheduled time, so a late
 * sender adds its lag to every figure. A row is refused when the sender missed its rate or its
 * lag is a sizeable part of what it measured.
 */
function scheduleProblem(result: OpenLoopResult, rate: number, measuredP99Ms: number) {
  if (result.achievedRate < 0.95 * rate) {
    return `the sender achieved ${result.achievedRate.toFixed(0)} of ${rate} req/s`;
  }
  const allowed = Math.max(MIN_SEND_LAG_MS, MAX_SEND_LAG_SHARE * measuredP99Ms);
  if (result.sendLagP99Ms > allowed) {
    return `the sender's p99 lag behind its schedule was ${result.sendLagP99Ms.toFixed(2)} ms (> ${
      allowed.toFixed(2)
    } ms)`;
  }
  return undefined;
}

async function helloOpenLoop(rate: number, durationMs: number) {
  const port = freePort();
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("hello"),
  );
  try {
    return await runOpenLoop(`http://127.0.0.1:${port}/`, { rate, durationMs });
  } finally {
    await server.shutdown();
  }
}

/** Builds the web client and sums its files (raw and gzip). */
async function bundleSize(): Promise<{ bytes: number; gzipBytes: number; files: number }> {
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "build:web"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!build.success) throw new Error(new TextDecoder().decode(build.stderr));
  const dir = new URL("../../web/static/build/", import.meta.url);
  let bytes = 0;
  let gzipBytes = 0;
  let files = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || entry.name === "manifest.json") continue;
    const data = await Deno.readFile(new URL(entry.name, dir));
    bytes += data.byteLength;
    const gz = await new Response(
      new Blob([data]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    gzipBytes += gz.byteLength;
    files++;
  }
  return { bytes, gzipBytes, files };
}

console.error(`outpost bench${smoke ? " (smoke profile: figures are not meaningful)" : ""}`);
const ingestRows = smoke ? 20_000 : 300_000;
const loadSeconds = smoke ? 1 : 5;
const HTTP_CONNECTIONS = 32;
/** The open-loop sender's p99 lag may be this share of the subject's p99, or this many ms. */
const MAX_SEND_LAG_SHARE = 0.25;
const MIN_SEND_LAG_MS = 2;

/**
 * Starts the agent once and stops it: the first start of a checkout transpiles the TypeScript
 * into Deno's cache, which costs ~10 MB of RSS that no later start (and no deployed agent) has.
 */
async function warmUpAgent(): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-bench-warmup-" });
  const port = freePort();
  const agent = startTask("agent", {
    env: { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir, OUTPOST_LOG_LEVEL: "warn" },
  });
  try {
    await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000, agent);
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function agentBenchmarks(): Promise<void> {
  await warmUpAgent();
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-bench-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = performance.now();
  const agent = startTask("agent", {
    env: { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir, OUTPOST_LOG_LEVEL: "warn" },
  });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const startToReadyMs = performance.now() - startedAt;
    const pid = await componentPid(agent.pid, "agent/main.ts");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // settle after start
    const idle = await memorySplit(pid);
    const bareIdle = await bareDenoIdle();

    const raw = await rawInsertRowsPerSecond(ingestRows);
    const ingest = await agentIngestRowsPerSecond(base, ingestRows);
    record({
      name: "agent batch ingest (in-process raw baseline)",
      figure: ingest,
      unit: "rows/s",
      baseline: raw,
      baselineName: "raw Kysely insert, same process",
      note: "10,000 readings per request, one client: the store path, HTTP aside",
    });

    await postJson(
      `${base}/api/v1/readings`,
      Array.from({ length: 200 }, (_, i) => ({ sensor: "q", value: i })),
    );
    // The baseline serves exactly the bytes the subject answers, with its content type.
    const sample = await fetch(`${base}/api/v1/readings?limit=100`);
    const sampleBody = new Uint8Array(await sample.arrayBuffer());
    const sampleType = sample.headers.get("content-type") ?? "application/json";
    const bare = await startBareServer(sampleBody, sampleType);
    const ceiling = await startNginxCeiling(sampleBody, sampleType);
    try {
      const wrkOptions = { connections: HTTP_CONNECTIONS, durationSeconds: loadSeconds };
      await runWrk(`${base}/api/v1/readings?limit=100`, { ...wrkOptions, durationSeconds: 1 });
      recordHttp(
        "agent GET readings?limit=100",
        await compareHttp({
          ceiling: ceiling.url,
          baseline: bare.url,
          subject: `${base}/api/v1/readings?limit=100`,
        }, wrkOptions),
        {
          baselineName: `bare Deno.serve, same ${sampleBody.byteLength} bytes`,
          note: "response cache hit",
        },
      );
    } finally {
      await bare.stop();
      await ceiling.stop();
    }

    for (const perRequest of [100, 1000]) {
      const raw = await startRawIngestServer();
      const ceiling = await startNginxCeiling(sampleBody, sampleType);
      try {
        const body = readingsBody(perRequest);
        const post = {
          connections: 8,
          durationSeconds: loadSeconds,
          method: "POST" as const,
          body,
          headers: { "Content-Type": "application/json" },
        };
        recordHttp(
          `agent POST readings, ${perRequest} per request`,
          await compareHttp({
            ceiling: ceiling.url,
            baseline: raw.url,
            subject: `${base}/api/v1/readings`,
          }, post),
          {
            unit: "rows/s",
            per: perRequest,
            connections: post.connections,
            baselineName: "bare Deno.serve inserting the same rows (readings + outbox)",
            note: `${body.length} bytes per request`,
          },
        );
      } finally {
        await raw.stop();
        await ceiling.stop();
      }
    }
    const dashRate = smoke ? 100 : 200;
    const dashMs = smoke ? 1000 : 10_000;
    await fetch(`${base}/`).then((r) => r.arrayBuffer()); // warm-up
    const helloOpen = await helloOpenLoop(dashRate, dashMs);
    const dashboard = await runOpenLoop(`${base}/`, { rate: dashRate, durationMs: dashMs });
    const late = scheduleProblem(dashboard, dashRate, dashboard.p99Ms) ??
      scheduleProblem(helloOpen, dashRate, dashboard.p99Ms);
    record({
      name: `dashboard SSR p99 at ${dashRate} req/s`,
      figure: dashboard.p99Ms,
      unit: "ms",
      baseline: helloOpen.p99Ms,
      baselineName: "bare Deno.serve hello p99, same rate",
      refused: late,
      note: `open loop ${dashMs / 1000} s; achieved ${dashboard.achievedRate.toFixed(0)} req/s, ` +
        `sender lag p99 ${dashboard.sendLagP99Ms.toFixed(2)} ms; p50 ${
          dashboard.p50Ms.toFixed(2)
        } ms (hello p50 ${helloOpen.p50Ms.toFixed(2)} ms), errors ${dashboard.errors}`,
    });
    const afterLoad = await memorySplit(pid);
    record({
      name: "agent RSS idle",
      figure: idle.rss / 1e6,
      unit: "MB",
      baseline: bareIdle.rss / 1e6,
      baselineName: "bare Deno.serve idle, same runtime flags, same run",
      note: `agent ${describeSplit(idle)}; bare ${describeSplit(bareIdle)}`,
    });
    record({
      name: "agent RSS after load",
      figure: afterLoad.rss / 1e6,
      unit: "MB",
      baseline: bareIdle.rss / 1e6,
      baselineName: "bare Deno.serve idle, same runtime flags, same run",
      note: describeSplit(afterLoad),
    });
    record({
      name: "agent start-to-ready",
      figure: startToReadyMs,
      unit: "ms",
      baseline: 1,
      baselineName: "-",
    });
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }

  const bundle = await bundleSize();
  record({
    name: "web client bundle",
    figure: bundle.bytes / 1000,
    unit: "kB",
    baseline: bundle.gzipBytes / 1000,
    baselineName: "gzip",
    note: `${bundle.files} files in web/static/build after build:web; the compiled agent binary ` +
      "is not measured here (deno compile needs denort, which cannot be downloaded)",
  });
}

if (!syncOnly && !fleetOnly) await agentBenchmarks();

async function tracingBenchmarks(): Promise<void> {
  const { off, on, exportsReceived } = await tracingCost(smoke);
  const note = `OTLP http/protobuf to a local receiver (${exportsReceived} exports)`;
  record({
    name: "agent POST one reading, tracing on",
    figure: on.smallWritesPerSecond,
    unit: "req/s",
    baseline: off.smallWritesPerSecond,
    baselineName: "tracing off",
    note: `p99 ${on.smallWriteP99Ms.toFixed(2)} ms vs ${
      off.smallWriteP99Ms.toFixed(2)
    } ms; ${note}`,
  });
  record({
    name: "agent batch ingest, tracing on",
    figure: on.batchRowsPerSecond,
    unit: "rows/s",
    baseline: off.batchRowsPerSecond,
    baselineName: "tracing off",
    note: "10,000 readings per request, each outbox record carrying the write's traceparent",
  });
  record({
    name: "agent RSS idle, tracing on",
    figure: on.idleRssBytes / 1e6,
    unit: "MB",
    baseline: off.idleRssBytes / 1e6,
    baselineName: "tracing off",
    note: "the SDK is imported only when an OTEL_* variable asks for tracing",
  });
}

if (!syncOnly && !fleetOnly) await tracingBenchmarks();

const syncRows = values["sync-rows"] ? Number(values["sync-rows"]) : smoke ? 20_000 : 500_000;
const backends = (["libsql", "postgres"] as const).filter((backend) =>
  values.backend === undefined || values.backend === backend
);
for (const backend of fleetOnly || agentOnly ? [] : backends) {
  const result = await endToEndSync(backend, syncRows);
  record({
    name: `end-to-end sync (${backend}, Mosquitto)`,
    figure: result.rowsPerSecond,
    unit: "rows/s",
    baseline: result.rawRowsPerSecond,
    baselineName: `raw cloud commitBatch (${backend})`,
    note: `${syncRows.toLocaleString("en-US")} rows written to the agent until all acked ` +
      `(writing took ${(result.writeMs / 1000).toFixed(1)} s, ${
        result.pendingAfterWrite.toLocaleString("en-US")
      } still pending then; CPU agent ${result.agentCpuSeconds.toFixed(1)} s, cloud ${
        result.cloudCpuSeconds.toFixed(1)
      } s; batches ${JSON.stringify(result.cloudBatches)})` +
      (backend === "libsql" ? `; lost ${result.lost}, duplicates ${result.duplicates}` : ""),
  });
}

async function catchUpBenchmark(): Promise<void> {
  const catchUpRows = smoke ? 20_000 : 1_000_000;
  const drained = await catchUp(catchUpRows);
  record({
    name: `catch-up of ${catchUpRows.toLocaleString("en-US")} rows`,
    figure: drained.fromCloudReadyMs / 1000,
    unit: "s",
    baseline: drained.fromReconnectMs / 1000,
    baselineName: "from the agent's reconnect",
    note:
      `embedded broker, libSQL; agent RSS max ${
        (drained.agentRssMaxBytes / 1e6).toFixed(0)
      } MB, cloud RSS max ${(drained.cloudRssMaxBytes / 1e6).toFixed(0)} MB during the drain; ` +
      `writing the backlog took ${(drained.writeMs / 1000).toFixed(1)} s`,
  });
}

if (!syncOnly && !fleetOnly && !agentOnly) await catchUpBenchmark();

async function fleetBenchmarks(): Promise<void> {
  const listDevices = values["fleet-devices"]
    ? Number(values["fleet-devices"])
    : smoke
    ? 2_000
    : 100_000;
  const load = smoke ? { rate: 10, durationMs: 2000 } : { rate: 20, durationMs: 15_000 };
  for (const backend of backends) {
    const list = await deviceListBench(backend, listDevices, load);
    const note = (what: string, r: { p50Ms: number; errors: number }) =>
      `${what} p50 ${r.p50Ms.toFixed(2)} ms, errors ${r.errors}`;
    record({
      name: `device list p99, selector, ${
        listDevices.toLocaleString("en-US")
      } devices (${backend})`,
      figure: list.selector.p99Ms,
      unit: "ms",
      baseline: list.baseline.p99Ms,
      baselineName: `GET /healthz p99, same process and rate`,
      note:
        `${LIST_SELECTOR} matches ${
          list.matches.toLocaleString("en-US")
        }; open loop ${load.rate} req/s for ${load.durationMs / 1000} s; ${
          note("first page", list.selector)
        }; ` +
        `a page in the middle p99 ${list.selectorDeep.p99Ms.toFixed(2)} ms; no selector p99 ${
          list.unfiltered.p99Ms.toFixed(2)
        } ms (counts over every device); cloud RSS ${(list.cloudRssBytes / 1e6).toFixed(0)} MB; ` +
        `seeding took ${(list.seedMs / 1000).toFixed(1)} s`,
    });
  }
  const simDevices = values["sim-devices"] ? Number(values["sim-devices"]) : smoke ? 50 : 10_000;
  const sim = await fleetOpsBench(simDevices);
  const ops = sim.fleetOps!;
  const mb = (bytes: number | undefined) =>
    bytes === undefined ? "n/a" : `${(bytes / 1e6).toFixed(0)} MB`;
  record({
    name: `rollout over ${simDevices.toLocaleString("en-US")} simulated devices`,
    figure: ops.rollout.ms / 1000,
    unit: "s",
    baseline: ops.rollout.baselineMs / 1000,
    baselineName: "one PUT per device (32 in flight) until all answered",
    note:
      `${ops.rollout.state}, 3 waves; counts ${
        JSON.stringify(ops.rollout.counts)
      }; exact ${ops.rollout.exact}; ` +
      `cloud RSS max ${mb(ops.rollout.cloudRssMaxBytes)} (the whole run: ${
        mb(sim.cloudRssMaxBytes)
      }); ` +
      `embedded broker, libSQL; enroll + connect ${(sim.enrollAndConnectMs / 1000).toFixed(1)} s`,
  });
  record({
    name: `job over ${simDevices.toLocaleString("en-US")} simulated devices`,
    figure: ops.job.ms / 1000,
    unit: "s",
    baseline: ops.job.baselineMs / 1000,
    baselineName: "one POST command per device (32 in flight) until all answered",
    note: `${ops.job.state}; counts ${JSON.stringify(ops.job.counts)}; exact ${ops.job.exact}; ` +
      `cloud RSS max ${mb(ops.job.cloudRssMaxBytes)}`,
  });
  if (!ops.rollout.exact || !ops.job.exact) {
    throw new Error("the rollout's or the job's counts differ from what the devices answered");
  }
}

if (!syncOnly && !agentOnly) await fleetBenchmarks();

console.log("| benchmark | generator ceiling | baseline | subject | ratio | note |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const row of rows) {
  const ceiling = row.ceiling === undefined ? "-" : `${fmt(row.ceiling)} ${row.unit}`;
  const ratio = row.ratio === null ? `none: ${row.refused}` : row.ratio.toFixed(2);
  console.log(
    `| ${row.name} | ${ceiling} | ${row.baselineName}: ${fmt(row.baseline)} | ${
      fmt(row.figure)
    } ${row.unit} | ${ratio} | ${row.note ?? ""} |`,
  );
}
// A partial run does not overwrite the full results.
await Deno.writeTextFile(
  values.only ? `bench-results-${values.only}.json` : "bench-results.json",
  JSON.stringify(
    { at: new Date().toISOString(), smoke, ...(values.only ? { only: values.only } : {}), rows },
    null,
    2,
  ) + "\n",
);
