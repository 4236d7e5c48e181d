/**
 * The wire protocol without a broker's memory (issue 19): an agent learns its ack position and
 * desired state from the cloud's answer to `up/hello` when no retained copy survives, and it
 * fails over between several broker URLs. Real processes, embedded brokers (whose retained
 * messages live in memory, so a restart or another node has none).
 */
import assert from "node:assert/strict";
import { freePort, postJson } from "../support/process.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";
import { assertSameRecords, syncStatus, waitDrained } from "../support/sync_checks.ts";
import { agentRecords, cloudRecords } from "../support/verify.ts";

async function stopAll(...handles: ({ process: { stop(): Promise<unknown> } } | undefined)[]) {
  for (const handle of handles) await handle?.process.stop();
}

/** One counter of a cloud's `/metrics`, summed over the series matching `labels` (0: none). */
async function metric(cloud: CloudHandle, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${cloud.url}/metrics`)).text();
  const pattern = new RegExp(`^${name}(\\{[^}]*\\})? (\\d+)$`, "gm");
  return [...text.matchAll(pattern)]
    .filter(([, series]) => (series ?? "").includes(labels))
    .reduce((total, [, , value]) => total + Number(value), 0);
}

async function writeReadings(agent: AgentHandle, sensor: string, from: number, count: number) {
  const batch = Array.from({ length: count }, (_, i) => ({ sensor, value: from + i }));
  assert.equal((await postJson(`${agent.url}/api/v1/readings`, batch)).status, 201);
}

Deno.test("with the cloud's retained messages gone, a reconnecting agent learns its ack and desired state from hello: nothing acked resent, nothing unacked lost", async () => {
  // The cloud dies right after committing the first batch, before its ack: the agent never
  // hears that those records are stored.
  const cloud = await startCloud({ env: { OUTPOST_FAULT_CRASH_AFTER_COMMITS: "1" } });
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "hello-1", cloudUrl: cloud.url });
    await eventually(async () => (await syncStatus(agent!)).state === "online", "online");
    await writeReadings(agent, "h", 0, 100);
    const exit = await cloud.process.status;
    assert.ok(exit.signal === "SIGKILL" || exit.code === 137, "the fault injection did not fire");
    const stranded = await syncStatus(agent);
    assert.equal(stranded.ackedSeq, 0, "the agent never got the ack");
    // Written while the cloud is down: unacked, and unknown to the cloud.
    await writeReadings(agent, "h", 100, 50);
    await agent.process.stop();

    // Desired state set while the device is away; then the cloud restarts once more, so its
    // embedded broker holds no retained ack or desired state for anybody.
    await cloud.restart({ OUTPOST_FAULT_CRASH_AFTER_COMMITS: "" });
    const stored = await cloud.admin<{ ackedSeq: number }>("/api/v1/devices/hello-1");
    assert.ok(
      stored.body.ackedSeq >= 1,
      `the cloud holds the first batch: ${stored.body.ackedSeq}`,
    );
    const put = await cloud.admin<{ version: number }>("/api/v1/devices/hello-1/desired", {
      method: "PUT",
      body: JSON.stringify({ logLevel: "debug" }),
    });
    assert.equal(put.status, 200);
    await cloud.process.stop();
    await cloud.restart({ OUTPOST_FAULT_CRASH_AFTER_COMMITS: "" });

    await agent.restart();
    await waitDrained(agent);
    assertSameRecords(
      agentRecords(agent.dataDir),
      cloudRecords(cloud.dataDir, "hello-1"),
      "hello-1",
    );
    assert.equal(agentRecords(agent.dataDir).size, 150);
    assert.equal(
      await metric(cloud, "outpost_ingest_batches_total", 'result="duplicate"'),
      0,
      "records the cloud had stored were sent again",
    );
    assert.ok(await metric(cloud, "outpost_ingest_hellos_total") >= 1, "the hello was answered");
    assert.ok(
      !agent.process.output.some((line) => line.includes("no answer to hello")),
      "the agent waited for the answer, not the timeout",
    );
    await eventually(async () => {
      const config = await (await fetch(`${agent!.url}/api/v1/config`)).json();
      return config.desiredVersion === put.body.version &&
        config.appliedVersion === put.body.version;
    }, "the agent to apply the desired state");
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("an agent given several broker URLs skips a dead one, and when its broker is SIGKILLed syncs through the next", async () => {
  // Two clouds on one database, each with its embedded broker: two brokers that know the same
  // devices, as the nodes of a cluster do. The agent enrolls with the first.
  const first = await startCloud();
  const second = await startCloud({
    env: { DATABASE_URL: `file:${first.dataDir}/cloud.db` },
  });
  const dead = `mqtt://127.0.0.1:${freePort()}`;
  const urls = [dead, `mqtt://127.0.0.1:${first.mqttPort}`, `mqtt://127.0.0.1:${second.mqttPort}`];
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({
      deviceId: "failover-1",
      cloudUrl: first.url,
      env: { OUTPOST_MQTT_URL: urls.join(",") },
    });
    await writeReadings(agent, "f", 0, 300);
    await waitDrained(agent);
    const before = await syncStatus(agent);
    assert.equal(before.brokerUrl, urls[1], "the dead first URL was skipped");

    first.process.signal("SIGKILL");
    await first.process.status;
    for (let i = 1; i <= 3; i++) await writeReadings(agent, "f", i * 300, 300);
    await waitDrained(agent);
    const after = await syncStatus(agent);
    assert.equal(after.brokerUrl, urls[2]);
    const local = agentRecords(agent.dataDir);
    assertSameRecords(local, cloudRecords(first.dataDir, "failover-1"), "failover-1");
    assert.equal(local.size, 1200);
    assert.ok(await metric(second, "outpost_ingest_batches_total") > 0, "the second ingested");
    assert.ok(
      agent.process.output.some((line) =>
        line.includes("broker connected") && line.includes(String(second.mqttPort))
      ),
      "the agent logs the broker it is connected to",
    );
  } finally {
    await stopAll(agent, second, first);
  }
});
