/**
 * What tracing costs the agent: the same agent process with no `OTEL_*` set and with spans
 * exported over OTLP (http/protobuf, the default) to a receiver that drops them. Idle RSS, small
 * writes (one span pair and a traceparent per reading) and 10,000-reading batches.
 * Kept apart from main.ts so the harness can change its load generator without touching this.
 * @module
 */
import { freePort, startTask, waitForOk } from "../support/process.ts";
import { runWrk } from "./wrk.ts";
import { componentPid, rssOf } from "./sync.ts";

/** One agent's figures. */
export interface TracingFigures {
  idleRssBytes: number;
  /** `POST /api/v1/readings` of one reading, from wrk (8 connections). */
  smallWritesPerSecond: number;
  smallWriteP99Ms: number;
  /** `POST /api/v1/readings` of 10,000 readings, back to back. */
  batchRowsPerSecond: number;
}

/** Figures with tracing off and on. */
export interface TracingCost {
  off: TracingFigures;
  on: TracingFigures;
  /** OTLP export requests the receiver got from the traced agent (proof spans left it). */
  exportsReceived: number;
}

async function measure(
  env: Record<string, string>,
  options: { loadMs: number; batchRows: number },
): Promise<TracingFigures> {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-bench-trace-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const agent = startTask("agent", {
    env: {
      OUTPOST_PORT: String(port),
      OUTPOST_DATA_DIR: dataDir,
      OUTPOST_LOG_LEVEL: "warn",
      ...env,
    },
  });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const pid = await componentPid(agent.pid, "agent/main.ts");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // settle after start
    const idleRssBytes = await rssOf(pid);
    const one = JSON.stringify({ sensor: "t", value: 1, unit: "C" });
    const small = await runWrk(`${base}/api/v1/readings`, {
      durationSeconds: Math.max(1, Math.round(options.loadMs / 1000)),
      connections: 8,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: one,
    });
    if (small.errors) throw new Error(`${small.errors} small writes failed`);
    const batch = JSON.stringify(
      Array.from({ length: 10_000 }, (_, i) => ({ sensor: `s${i % 4}`, value: i, unit: "C" })),
    );
    const start = performance.now();
    for (let done = 0; done < options.batchRows; done += 10_000) {
      const response = await fetch(`${base}/api/v1/readings`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: batch,
      });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`batch write answered ${response.status}`);
    }
    return {
      idleRssBytes,
      smallWritesPerSecond: small.perSecond,
      smallWriteP99Ms: small.p99Ms,
      batchRowsPerSecond: options.batchRows / ((performance.now() - start) / 1000),
    };
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Runs the agent with tracing off, then on, on the same load. */
export async function tracingCost(smoke: boolean): Promise<TracingCost> {
  const options = { loadMs: smoke ? 500 : 5000, batchRows: smoke ? 20_000 : 200_000 };
  let exportsReceived = 0;
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      if (body.byteLength) exportsReceived++;
      return new Response(null, { status: 200 });
    },
  );
  try {
    const off = await measure({}, options);
    const on = await measure({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
      OTEL_BSP_SCHEDULE_DELAY: "1000",
    }, options);
    return { off, on, exportsReceived };
  } finally {
    await receiver.shutdown();
  }
}
