/**
 * The agent and the cloud as one system, as real processes with the embedded broker:
 * exactly-once through kills, offline starts, desired state, commands, hostile payloads.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { postJson } from "../support/process.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  startCloud,
  TEST_ENROLL_TOKEN,
} from "../support/stack.ts";
import { assertSameRecords, syncStatus, waitDrained } from "../support/sync_checks.ts";
import { agentRecords, cloudRecords } from "../support/verify.ts";

function assertExactlyOnce(agent: AgentHandle, cloud: CloudHandle, expectedRecords?: number) {
  const local = agentRecords(agent.dataDir);
  assertSameRecords(local, cloudRecords(cloud.dataDir, agent.deviceId), agent.deviceId);
  if (expectedRecords !== undefined) assert.equal(local.size, expectedRecords);
  return local;
}

async function stopAll(...handles: ({ process: { stop(): Promise<unknown> } } | undefined)[]) {
  for (const handle of handles) await handle?.process.stop();
}

Deno.test("20,000 readings and some events reach the cloud exactly once and pending drains to 0", async () => {
  const cloud = await startCloud();
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "sync-basic", cloudUrl: cloud.url });
    for (let i = 0; i < 20; i++) {
      const batch = Array.from(
        { length: 1000 },
        (_, j) => ({ sensor: `s${j % 3}`, value: i * 1000 + j }),
      );
      assert.equal((await postJson(`${agent.url}/api/v1/readings`, batch)).status, 201);
      if (i % 4 === 0) {
        const event = await postJson(`${agent.url}/api/v1/events`, {
          kind: "batch",
          severity: "info",
          message: `batch ${i}`,
        });
        assert.equal(event.status, 201);
      }
    }
    await waitDrained(agent);
    const local = assertExactlyOnce(agent, cloud, 20_005);
    assert.deepEqual([...local.keys()].sort((a, b) => a - b).at(-1), 20_005);
    const device = await cloud.admin<
      {
        stats: { readings: number; events: number };
        lag: number;
        ackedSeq: number;
        online: boolean;
      }
    >(
      `/api/v1/devices/sync-basic`,
    );
    assert.deepEqual(device.body.stats, { readings: 20_000, events: 5 });
    assert.equal(device.body.ackedSeq, 20_005);
    assert.equal(device.body.online, true);
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("exactly once holds with the agent SIGKILLed mid-stream and the cloud killed after a commit, before its ack", async () => {
  // The first cloud dies right after committing its 5th batch and before acking it.
  const cloud = await startCloud({ env: { OUTPOST_FAULT_CRASH_AFTER_COMMITS: "5" } });
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "sync-kills", cloudUrl: cloud.url });
    const current = agent;
    const acknowledged: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const batch = Array.from({ length: 200 }, (_, j) => ({ sensor: "k", value: i * 200 + j }));
        try {
          const result = await postJson(`${current.url}/api/v1/readings`, batch);
          if (result.status === 201) acknowledged.push(...batch.map((r) => r.value));
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50)); // agent being restarted
        }
      }
    })();
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      current.process.signal("SIGKILL");
      await current.process.status;
      await current.restart();
    }
    const cloudExit = await cloud.process.status;
    // `deno task` reports its child's SIGKILL as exit code 137.
    assert.ok(
      cloudExit.signal === "SIGKILL" || cloudExit.code === 137,
      "the cloud's fault injection did not fire",
    );
    assert.ok(cloud.process.output.some((line) => line.includes("fault injection")));
    await cloud.restart({ OUTPOST_FAULT_CRASH_AFTER_COMMITS: "" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    writing = false;
    await writer;
    await waitDrained(current);
    const local = assertExactlyOnce(current, cloud);
    const stored = new Set([...local.values()]);
    const missing = acknowledged.filter((value) => !stored.has(`reading:k:${value}`));
    assert.deepEqual(missing, [], "acknowledged writes missing on the agent");
    assert.ok(acknowledged.length >= 1000, `only ${acknowledged.length} writes acknowledged`);
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("an agent started while the cloud is down works offline and syncs everything once the cloud comes up", async () => {
  // Reserve the cloud's ports but start it later.
  const cloud = await startCloud({ wait: false });
  cloud.process.signal("SIGKILL");
  await cloud.process.status;
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "sync-offline", cloudUrl: cloud.url });
    for (let i = 0; i < 4; i++) {
      const batch = Array.from({ length: 500 }, (_, j) => ({ sensor: "o", value: i * 500 + j }));
      assert.equal((await postJson(`${agent.url}/api/v1/readings`, batch)).status, 201);
    }
    const offline = await syncStatus(agent);
    assert.equal(offline.state, "connecting");
    assert.equal(offline.pending, 2000);
    assert.match(offline.lastError ?? "", /Cannot reach/);
    await cloud.restart();
    await waitDrained(agent);
    assertExactlyOnce(agent, cloud, 2000);
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("desired state set while the device is offline is applied on reconnect, and a command's result reaches the cloud", async () => {
  const cloud = await startCloud();
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "sync-desired", cloudUrl: cloud.url });
    await waitDeviceOnline(cloud, "sync-desired", true);
    await agent.process.stop();
    await waitDeviceOnline(cloud, "sync-desired", false);
    const put = await cloud.admin<{ version: number }>("/api/v1/devices/sync-desired/desired", {
      method: "PUT",
      body: JSON.stringify({ logLevel: "debug", sampleRateSeconds: 5 }),
    });
    assert.equal(put.status, 200);
    const command = await cloud.admin<{ id: string }>("/api/v1/devices/sync-desired/commands", {
      method: "POST",
      body: JSON.stringify({ name: "ping" }),
    });
    assert.equal(command.status, 201);
    await agent.restart();
    await eventually(async () => {
      const config = await (await fetch(`${agent!.url}/api/v1/config`)).json();
      return config.desiredVersion === put.body.version &&
        config.appliedVersion === put.body.version &&
        config.desired.sampleRateSeconds === 5;
    }, "the agent to apply the desired state");
    await eventually(async () => {
      const device = await cloud.admin<{ appliedVersion: number }>("/api/v1/devices/sync-desired");
      return device.body.appliedVersion === put.body.version;
    }, "the cloud to see the applied version");
    await eventually(async () => {
      const status = await cloud.admin<{ status: string; result?: { pong?: boolean } }>(
        `/api/v1/devices/sync-desired/commands/${command.body.id}`,
      );
      return status.body.status === "succeeded" && status.body.result?.pong === true;
    }, "the ping result");
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("a command delivered twice (broker restart before its result arrived) runs once", async () => {
  const cloud = await startCloud();
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "sync-dup", cloudUrl: cloud.url });
    await waitDeviceOnline(cloud, "sync-dup", true);
    // Freeze the agent: the command lands in its socket, unread.
    agent.process.signal("SIGSTOP");
    const command = await cloud.admin<{ id: string }>("/api/v1/devices/sync-dup/commands", {
      method: "POST",
      body: JSON.stringify({ name: "ping" }),
    });
    await eventually(async () => {
      const status = await cloud.admin<{ status: string }>(
        `/api/v1/devices/sync-dup/commands/${command.body.id}`,
      );
      return status.body.status === "delivered";
    }, "delivery");
    // The broker dies with the cloud; the restarted cloud has no result yet and sends it again.
    cloud.process.signal("SIGKILL");
    await cloud.process.status;
    await cloud.restart();
    agent.process.signal("SIGCONT");
    await eventually(async () => {
      const status = await cloud.admin<{ status: string }>(
        `/api/v1/devices/sync-dup/commands/${command.body.id}`,
      );
      return status.body.status === "succeeded";
    }, "the command's result");
    await eventually(
      () =>
        Promise.resolve(
          agent!.process.output.some((line) =>
            line.includes("duplicate command delivery ignored") && line.includes(command.body.id)
          ),
        ),
      "the duplicate delivery to be seen and ignored",
      20_000,
    );
    const ran = agent.process.output.filter((line) =>
      line.includes('"command ran"') && line.includes(command.body.id)
    );
    assert.equal(ran.length, 1, ran.join("\n"));
    if (Deno.env.get("DUMP")) console.log(agent.process.output.join("\n"));
  } finally {
    await stopAll(agent, cloud);
  }
});

Deno.test("malformed, lying and oversized MQTT payloads are rejected and bad records dropped, storing nothing of them and not stopping the ingest", async () => {
  const cloud = await startCloud();
  const client = await (async () => {
    const enrolled = await postJson(`${cloud.url}/api/v1/enroll`, {
      deviceId: "hostile",
      token: TEST_ENROLL_TOKEN,
      deviceSecret: "hostile-device-secret-0123456789abcdef0123",
    });
    assert.equal(enrolled.status, 200);
    const { mqtt: creds } = enrolled.body as {
      mqtt: { url: string; username: string; password: string; protocolVersion: 4 | 5 };
    };
    return await mqtt.connectAsync(creds.url, {
      clientId: "hostile",
      username: creds.username,
      password: creds.password,
      protocolVersion: creds.protocolVersion,
      reconnectPeriod: 0,
    });
  })();
  try {
    const acks: number[] = [];
    await client.subscribeAsync("outpost/v1/hostile/down/ack", { qos: 1 });
    client.on("message", (_topic, payload) => acks.push(JSON.parse(payload.toString()).upTo));
    const reading = (seq: number) => ({
      seq,
      type: "reading",
      sensor: "h",
      value: seq,
      unit: "",
      ts: "2026-11-26T00:00:00Z",
    });
    const bad = [
      "{not json",
      JSON.stringify({ from: 1, to: 1 }),
      JSON.stringify({ from: 1, to: 3, records: [reading(1), reading(2)] }), // lies about its range
      JSON.stringify({ from: 1, to: 2, records: [reading(2), reading(1)] }), // out of order
      "x".repeat(3 * 1024 * 1024), // oversized
    ];
    // Records of a known type that break a field rule: dropped alone (the ack covers them).
    const badRecords = [
      JSON.stringify({ from: 1, to: 1, records: [{ ...reading(1), value: "NaN" }] }),
      JSON.stringify({ from: 1, to: 1, records: [{ ...reading(1), ts: "yesterday" }] }),
    ];
    for (const payload of [...bad, ...badRecords]) {
      await client.publishAsync("outpost/v1/hostile/up/batch", payload, { qos: 1 });
    }
    await client.publishAsync(
      "outpost/v1/hostile/up/batch",
      JSON.stringify({ from: 1, to: 2, records: [reading(1), reading(2)] }),
      { qos: 1 },
    );
    await eventually(() => Promise.resolve(acks.includes(2)), "the valid batch's ack", 20_000);
    const device = await cloud.admin<{ stats: { readings: number } }>("/api/v1/devices/hostile");
    assert.equal(device.body.stats.readings, 2);
    const metrics =
      await (await fetch(`${cloud.url}/metrics`, { headers: { authorization: "Bearer x" } }))
        .text();
    const rejected = [...metrics.matchAll(/outpost_ingest_rejected_total\{[^}]*\} (\d+)/g)]
      .reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(rejected >= bad.length - 1, `only ${rejected} rejections counted:\n${metrics}`);
    assert.match(metrics, /outpost_ingest_dropped_records_total 2\b/);
    assert.equal((await fetch(`${cloud.url}/healthz`)).status, 200);
  } finally {
    if (Deno.env.get("DUMP")) console.log(cloud.process.output.join("\n"));
    await client.endAsync(true);
    await cloud.process.stop();
  }
});

async function waitDeviceOnline(cloud: CloudHandle, deviceId: string, online: boolean) {
  await eventually(
    async () => {
      const device = await cloud.admin<{ online: boolean }>(`/api/v1/devices/${deviceId}`);
      return device.status === 200 && device.body.online === online;
    },
    `${deviceId} to be ${online ? "online" : "offline"}`,
    30_000,
  );
}
