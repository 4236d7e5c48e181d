import assert from "node:assert/strict";
import { freePort, postJson, startTask, waitForOk } from "../support/process.ts";

function agentEnv(port: number, dataDir: string): Record<string, string> {
  return { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir, OUTPOST_DEVICE_ID: "proc-test" };
}

Deno.test("every acknowledged write survives SIGKILL of the agent and a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-proc-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  let agent = startTask("agent", { env: agentEnv(port, dataDir) });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const acknowledged: number[] = [];
    const eventIds: string[] = [];
    // Writes keep going while the kill lands: only the 201s count as acknowledged.
    const writer = (async () => {
      for (let i = 0; i < 2000; i++) {
        try {
          const batch = Array.from({ length: 10 }, (_, j) => ({ sensor: "s", value: i * 10 + j }));
          const result = await postJson(`${base}/api/v1/readings`, batch);
          if (result.status === 201) acknowledged.push(...batch.map((r) => r.value));
          if (i % 50 === 0) {
            const event = await postJson(`${base}/api/v1/events`, {
              kind: "tick",
              severity: "info",
              message: `tick ${i}`,
            });
            if (event.status === 201) eventIds.push((event.body as { id: string }).id);
          }
        } catch {
          return; // connection refused after the kill
        }
      }
    })();
    while (acknowledged.length < 3000) await new Promise((resolve) => setTimeout(resolve, 20));
    agent.signal("SIGKILL");
    const status = await agent.status;
    assert.equal(status.signal, "SIGKILL");
    await writer;

    agent = startTask("agent", { env: agentEnv(port, dataDir) });
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const stored = await (await fetch(`${base}/api/v1/readings?limit=10000&sensor=s`)).json();
    const values = new Set(stored.items.map((r: { value: number }) => r.value));
    const missing = acknowledged.filter((value) => !values.has(value));
    assert.deepEqual(missing, [], `${missing.length} acknowledged readings lost`);
    for (const id of eventIds) {
      assert.equal((await fetch(`${base}/api/v1/events/${id}`)).status, 200, `event ${id} lost`);
    }
    const sync = await (await fetch(`${base}/api/v1/sync`)).json();
    assert.equal(sync.state, "unenrolled");
    assert.ok(sync.pending >= acknowledged.length + eventIds.length);
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("SIGTERM stops the agent gracefully and it logs JSON lines without secrets", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-proc-" });
  const port = freePort();
  const token = "proc-test-token-0123456789";
  const agent = startTask("agent", {
    env: { ...agentEnv(port, dataDir), OUTPOST_API_TOKEN: token },
  });
  try {
    await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000, agent);
    const denied = await postJson(`http://127.0.0.1:${port}/api/v1/readings`, {
      sensor: "t",
      value: 1,
    });
    assert.equal(denied.status, 401);
    const status = await agent.stop(10_000);
    assert.equal(status.code, 0, agent.output.join("\n"));
    const records = agent.output.filter((line) => line.startsWith("{")).map((line) =>
      JSON.parse(line)
    );
    assert.ok(records.some((r) => r.msg === "agent ready"));
    assert.ok(records.some((r) => r.msg === "agent stopped"));
    assert.ok(records.every((r) => typeof r.level === "string" && typeof r.ts === "string"));
    assert.ok(!agent.output.join("\n").includes(token), "the API token leaked into the log");
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a port already in use fails the start with one line naming the port and the setting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-proc-" });
  try {
    const agent = startTask("agent", { env: agentEnv(port, dataDir) });
    const status = await agent.status;
    assert.equal(status.code, 2);
    assert.ok(
      agent.output.includes(
        `Cannot start agent: port ${port} on 127.0.0.1 is already in use; choose another with OUTPOST_PORT or --port`,
      ),
      agent.output.join("\n"),
    );
  } finally {
    listener.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a bad setting fails the start with exit code 2 and one clear line", async () => {
  const agent = startTask("agent", { env: { OUTPOST_RETENTION_DAYS: "forever" } });
  const status = await agent.status;
  assert.equal(status.code, 2);
  assert.deepEqual(agent.output.filter((line) => line.trim()), [
    "Cannot start agent: OUTPOST_RETENTION_DAYS must be a whole number from 1 to 3650: current value is 'forever'",
  ]);
});
