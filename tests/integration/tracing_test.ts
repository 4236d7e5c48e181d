/**
 * One trace from a device write to the cloud row, across an outage: a real agent and a real
 * cloud export spans over OTLP (http/json) to a receiver in this test.
 */
import assert from "node:assert/strict";
import { postJson } from "../support/process.ts";
import { type AgentHandle, startAgentProcess, startCloud } from "../support/stack.ts";
import { syncStatus, waitDrained } from "../support/sync_checks.ts";
import { eventually } from "../support/stack.ts";
import { otlpReceiver, type ReceivedSpan } from "../support/otlp.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

function logLines(output: string[]): Record<string, unknown>[] {
  return output.flatMap((line) => {
    try {
      const parsed = JSON.parse(line);
      return typeof parsed === "object" && parsed !== null ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

function names(spans: ReceivedSpan[]): string[] {
  return spans.map((span) => `${span.service}:${span.name}`).sort();
}

Deno.test("a reading written offline with a traceparent is one trace from the agent's write to the cloud's commit, logs included", async () => {
  const receiver = otlpReceiver();
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "200",
    OUTPOST_LOG_LEVEL: "debug",
  };
  // Reserve the cloud's ports but start it only after the write: the agent is offline.
  const cloud = await startCloud({ wait: false, env: otel });
  cloud.process.signal("SIGKILL");
  await cloud.process.status;
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "traced-1", cloudUrl: cloud.url, env: otel });
    const written = await postJson(
      `${agent.url}/api/v1/readings`,
      { sensor: "temp", value: 21.5, unit: "C" },
      { traceparent: TRACEPARENT },
    );
    assert.equal(written.status, 201);
    const offline = await syncStatus(agent);
    assert.notEqual(offline.state, "online");
    assert.equal(offline.pending, 1);

    await cloud.restart();
    await waitDrained(agent);
    await eventually(
      () => Promise.resolve(receiver.inTrace(TRACE_ID).some((s) => s.name === "ingest.commit")),
      "the cloud's commit span in the write's trace",
      30_000,
    );
    // The agent exports its upload span on its own schedule: under load it arrived after the
    // cloud's commit span (seen in a full `deno task test` run).
    await eventually(
      () =>
        Promise.resolve(
          receiver.spans.some((span) =>
            span.name === "sync.publish" && span.links.some((link) => link.traceId === TRACE_ID)
          ),
        ),
      "the agent's upload span",
      30_000,
    ).catch(() => {});

    const trace = receiver.inTrace(TRACE_ID);
    assert.deepEqual(names(trace), [
      "outpost-agent:POST /api/v1/readings",
      "outpost-agent:store.insert_readings",
      "outpost-cloud:ingest.commit",
    ]);
    const request = trace.find((span) => span.name === "POST /api/v1/readings")!;
    const store = trace.find((span) => span.name === "store.insert_readings")!;
    const commit = trace.find((span) => span.name === "ingest.commit")!;
    assert.equal(request.parentSpanId, CALLER_SPAN, "the write continues the caller's trace");
    assert.equal(store.parentSpanId, request.spanId);
    assert.equal(commit.parentSpanId, store.spanId, "the commit continues the stored write");
    assert.equal(commit.attributes["outpost.device.id"], "traced-1");
    assert.equal(commit.attributes["outpost.seq.first"], 1);

    // The upload happened later, in a trace of its own that links back to the write.
    const upload = receiver.spans.find((span) =>
      span.name === "sync.publish" && span.links.some((link) => link.traceId === TRACE_ID)
    );
    assert.ok(upload, `no upload span links to the write: ${names(receiver.spans)}`);
    assert.notEqual(upload.traceId, TRACE_ID);
    assert.equal(upload.service, "outpost-agent");
    const batch = receiver.spans.find((span) => span.name === "ingest.batch")!;
    assert.equal(batch.parentSpanId, upload.spanId, "the cloud's batch span continues the upload");
    assert.equal(commit.links[0]?.spanId, batch.spanId, "the commit links to its batch");

    const agentLogs = logLines(agent.process.output).filter((line) => line.trace_id === TRACE_ID);
    const cloudLogs = logLines(cloud.process.output).filter((line) => line.trace_id === TRACE_ID);
    assert.ok(
      agentLogs.some((line) => line.msg === "readings stored" && line.span_id === store.spanId),
      `no agent log line in the trace: ${agent.process.output.slice(-10).join("\n")}`,
    );
    assert.ok(
      cloudLogs.some((line) => line.msg === "write committed" && line.span_id === commit.spanId),
      `no cloud log line in the trace: ${cloud.process.output.slice(-10).join("\n")}`,
    );
    const rows = await cloud.admin<{ items: { value: number }[] }>(
      "/api/v1/readings?device=traced-1",
    );
    assert.deepEqual(rows.body.items.map((item) => item.value), [21.5]);
  } finally {
    await agent?.process.stop();
    await cloud.process.stop();
    await receiver.close();
  }
});
