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

Deno.test("a missing enrollment token is loud at every start: log, lastError, metric and readyz", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const cloudPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-agent-test-" });
  try {
    for (const start of [1, 2]) {
      const lines: string[] = [];
      const config = loadAgentConfig([], {
        OUTPOST_PORT: "0",
        OUTPOST_DATA_DIR: dataDir,
        OUTPOST_DEVICE_ID: "no-token",
        OUTPOST_CLOUD_URL: `http://127.0.0.1:${cloudPort}`,
        // What an empty or absent Secret key gives the agent.
        OUTPOST_ENROLL_TOKEN: "",
      });
      const agent = await startAgent(
        config,
        createLogger({ level: "info", write: (line) => lines.push(line) }),
      );
      try {
        await agent.ready;
        const base = `http://127.0.0.1:${agent.addr.port}`;
        const ready = await fetch(`${base}/readyz`);
        assert.equal(ready.status, 200, "the local API works: the agent stays ready");
        assert.deepEqual((await ready.json()).missingSecrets, [
          "OUTPOST_ENROLL_TOKEN",
          "OUTPOST_API_TOKEN",
        ]);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, /^outpost_agent_secret_missing\{secret="OUTPOST_ENROLL_TOKEN"\} 1$/m);
        assert.match(metrics, /^outpost_agent_secret_missing\{secret="OUTPOST_API_TOKEN"\} 1$/m);
        const deadline = Date.now() + 5_000;
        let view = await (await fetch(`${base}/api/v1/sync`)).json();
        while (view.lastError === null && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          view = await (await fetch(`${base}/api/v1/sync`)).json();
        }
        // Without a token the agent still asks (the cloud may hold it for approval): not online.
        assert.notEqual(view.state, "online");
        assert.match(view.lastError, /^OUTPOST_ENROLL_TOKEN is not set/);
        const logged = lines.map((line) => JSON.parse(line));
        assert.ok(
          logged.some((entry) =>
            entry.level === "error" && /OUTPOST_ENROLL_TOKEN is not set/.test(entry.msg)
          ),
          `start ${start}: no error line about the token in\n${lines.join("\n")}`,
        );
        assert.ok(
          logged.some((entry) =>
            entry.level === "warn" && /OUTPOST_API_TOKEN is not set/.test(entry.msg)
          ),
          `start ${start}: no warning about the API token`,
        );
      } finally {
        await agent.stop();
      }
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("an agent with both tokens, or without a cloud, misses no enrollment token", async () => {
  await withAgent({ OUTPOST_API_TOKEN: "api-token-0123456789" }, async (agent) => {
    const base = `http://127.0.0.1:${agent.addr.port}`;
    assert.deepEqual((await (await fetch(`${base}/readyz`)).json()).missingSecrets, []);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^outpost_agent_secret_missing\{secret="OUTPOST_ENROLL_TOKEN"\} 0$/m);
    assert.match(metrics, /^outpost_agent_secret_missing\{secret="OUTPOST_API_TOKEN"\} 0$/m);
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withAgent({
    OUTPOST_CLOUD_URL: `http://127.0.0.1:${port}`,
    OUTPOST_ENROLL_TOKEN: "test-enroll-token-0123456789abcdef",
    OUTPOST_API_TOKEN: "api-token-0123456789",
  }, async (agent) => {
    const ready = await (await fetch(`http://127.0.0.1:${agent.addr.port}/readyz`)).json();
    assert.deepEqual(ready.missingSecrets, []);
  });
});
