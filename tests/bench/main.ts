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
import { freePort, postJson, startTask, waitForOk } from "../support/process.ts";
import { runLoad, runOpenLoop } from "./load.ts";
import { catchUp, componentPid, endToEndSync, rssOf } from "./sync.ts";
import { tracingCost } from "./tracing.ts";
import { deviceListBench, fleetOpsBench, LIST_SELECTOR } from "./fleet.ts";

interface Row {
  name: string;
  figure: number;
  unit: string;
  baseline: number;
  baselineName: string;
  ratio: number;
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
      value: "sync|fleet",
      help: "Run only the end-to-end sync rows (writes bench-results-sync.json), or only the " +
        "fleet rows (device list at scale, rollout and job; bench-results-fleet.json).",
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
  values.only === undefined || values.only === "sync" || values.only === "fleet",
  `--only: expected 'sync' or 'fleet', got '${values.only}'`,
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
const rows: Row[] = [];

function record(row: Omit<Row, "ratio">): void {
  const full = { ...row, ratio: row.baseline ? row.figure / row.baseline : 0 };
  rows.push(full);
  console.error(
    `  ${row.name}: ${fmt(row.figure)} ${row.unit} vs ${row.baselineName} ${fmt(row.baseline)} → ${
      full.ratio.toFixed(2)
    }`,
  );
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
  const batch = Array.from(
    { length: 10_000 },
    (_, i) => ({ sensor: `s${i % 4}`, value: i, unit: "C" }),
  );
  const body = JSON.stringify(batch);
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

async function helloBaseline(durationMs: number) {
  const port = freePort();
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("hello"),
  );
  try {
    return await runLoad(`http://127.0.0.1:${port}/`, { durationMs });
  } finally {
    await server.shutdown();
  }
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
const loadMs = smoke ? 500 : 5000;

async function agentBenchmarks(): Promise<void> {
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
    const idleRss = await rssOf(pid);

    const raw = await rawInsertRowsPerSecond(ingestRows);
    const ingest = await agentIngestRowsPerSecond(base, ingestRows);
    record({
      name: "agent batch ingest",
      figure: ingest,
      unit: "rows/s",
      baseline: raw,
      baselineName: "raw Kysely insert",
    });

    await postJson(
      `${base}/api/v1/readings`,
      Array.from({ length: 200 }, (_, i) => ({ sensor: "q", value: i })),
    );
    const hello = await helloBaseline(loadMs);
    const query = await runLoad(`${base}/api/v1/readings?limit=100`, { durationMs: loadMs });
    record({
      name: "agent GET readings?limit=100",
      figure: query.perSecond,
      unit: "req/s",
      baseline: hello.perSecond,
      baselineName: "bare Deno.serve hello",
      note: `p50 ${query.p50Ms.toFixed(2)} ms, p99 ${
        query.p99Ms.toFixed(2)
      } ms, errors ${query.errors}`,
    });
    const dashRate = smoke ? 100 : 200;
    const dashMs = smoke ? 1000 : 10_000;
    await fetch(`${base}/`).then((r) => r.arrayBuffer()); // warm-up
    const helloOpen = await helloOpenLoop(dashRate, dashMs);
    const dashboard = await runOpenLoop(`${base}/`, { rate: dashRate, durationMs: dashMs });
    record({
      name: `dashboard SSR p99 at ${dashRate} req/s`,
      figure: dashboard.p99Ms,
      unit: "ms",
      baseline: helloOpen.p99Ms,
      baselineName: "bare Deno.serve hello p99, same rate",
      note: `open loop ${dashMs / 1000} s; p50 ${dashboard.p50Ms.toFixed(2)} ms (hello p50 ${
        helloOpen.p50Ms.toFixed(2)
      } ms), errors ${dashboard.errors}`,
    });
    const loadRss = await rssOf(pid);
    record({
      name: "agent RSS idle",
      figure: idleRss / 1e6,
      unit: "MB",
      baseline: 38,
      baselineName: "bare Deno idle (FACTS.md)",
    });
    record({
      name: "agent RSS after load",
      figure: loadRss / 1e6,
      unit: "MB",
      baseline: 38,
      baselineName: "bare Deno idle (FACTS.md)",
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
for (const backend of fleetOnly ? [] : backends) {
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

if (!syncOnly && !fleetOnly) await catchUpBenchmark();

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

if (!syncOnly) await fleetBenchmarks();

console.log("| benchmark | figure | baseline | ratio | note |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) {
  console.log(
    `| ${row.name} | ${fmt(row.figure)} ${row.unit} | ${row.baselineName}: ${fmt(row.baseline)} | ${
      row.ratio.toFixed(2)
    } | ${row.note ?? ""} |`,
  );
}
// A partial run does not overwrite the full results.
await Deno.writeTextFile(
  syncOnly
    ? "bench-results-sync.json"
    : fleetOnly
    ? "bench-results-fleet.json"
    : "bench-results.json",
  JSON.stringify(
    { at: new Date().toISOString(), smoke, ...(values.only ? { only: values.only } : {}), rows },
    null,
    2,
  ) + "\n",
);
