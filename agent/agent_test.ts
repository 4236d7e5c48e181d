import assert from "node:assert/strict";
import { loadSyncService, startAgent } from "./agent.ts";
import { loadAgentConfig } from "./config/config.ts";
import { createLogger } from "@outpost/platform/log";

const quiet = createLogger({ level: "error", write: () => {} });

async function withAgent(
  env: Record<string, string>,
  check: (agent: Awaited<ReturnType<typeof startAgent>>) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-agent-test-" });
  const config = loadAgentConfig([], {
    OUTPOST_PORT: "0",
    OUTPOST_HOST: "127.0.0.1",
    OUTPOST_DATA_DIR: dataDir,
    OUTPOST_DEVICE_ID: "lazy-sync",
    ...env,
  });
  const agent = await startAgent(config, quiet);
  try {
    await agent.ready;
    await check(agent);
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("the lazily loaded sync service module gives the SyncService class", async () => {
  const SyncService = await loadSyncService();
  assert.equal(typeof SyncService, "function");
  assert.equal(SyncService.name, "SyncService");
});

Deno.test("without a cloud the agent runs unenrolled and has no sync service", async () => {
  await withAgent({}, async (agent) => {
    assert.equal(agent.sync, undefined);
    const view = await (await fetch(`http://127.0.0.1:${agent.addr.port}/api/v1/sync`)).json();
    assert.equal(view.state, "unenrolled");
  });
});

Deno.test("with a cloud configured the agent loads and starts the sync service", async () => {
  // Nothing listens on this port: enrollment fails and retries in the background, which must
  // neither block the local API nor the stop.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withAgent({
    OUTPOST_CLOUD_URL: `http://127.0.0.1:${port}`,
    OUTPOST_ENROLL_TOKEN: "test-enroll-token-0123456789abcdef",
  }, async (agent) => {
    assert.ok(agent.sync instanceof await loadSyncService());
    const response = await fetch(`http://127.0.0.1:${agent.addr.port}/api/v1/sync`);
    const view = await response.json();
    assert.equal(response.status, 200);
    assert.notEqual(view.state, "unenrolled");
    assert.notEqual(view.state, "online");
  });
});

Deno.test("the agent's /metrics has the series a device dashboard needs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withAgent({
    OUTPOST_CLOUD_URL: `http://127.0.0.1:${port}`,
    OUTPOST_ENROLL_TOKEN: "test-enroll-token-0123456789abcdef",
  }, async (agent) => {
    const base = `http://127.0.0.1:${agent.addr.port}`;
    const written = await fetch(`${base}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ sensor: "t", value: 1 }, { sensor: "t", value: 2 }]),
    });
    assert.equal(written.status, 201);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const text = await (await fetch(`${base}/metrics`)).text();
    for (
      const series of [
        /^outpost_build_info\{component="agent",version="[^"]+"\} 1$/m,
        /^outpost_ready 1$/m,
        /^outpost_sync_state\{state="connecting"\} 1$/m,
        /^outpost_sync_state\{state="online"\} 0$/m,
        /^outpost_outbox_pending 2$/m,
        /^outpost_outbox_oldest_pending_age_seconds 0\.\d+$/m,
        /^outpost_disk_free_bytes \d+$/m,
        /^outpost_disk_size_bytes \d+$/m,
        /^# TYPE outpost_sync_records_sent_total counter$/m,
        /^outpost_readings_written_total 2$/m,
      ]
    ) {
      assert.match(text, series);
    }
    assert.doesNotMatch(text, /outpost_sync_last_ack_timestamp_seconds \d/, "no ack yet");
  });
});
