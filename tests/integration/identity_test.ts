/**
 * Device identity end to end with real processes (cloud with its embedded broker, agents):
 * an agent whose data dir was wiped waits for an operator's approval and then syncs again
 * after the records the cloud holds; a revoked agent is refused until reinstated.
 */
import assert from "node:assert/strict";
import { postJson } from "../support/process.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";
import { syncStatus, waitDrained } from "../support/sync_checks.ts";

async function write(agent: AgentHandle, count: number, from = 0): Promise<void> {
  const readings = Array.from({ length: count }, (_, i) => ({ sensor: "t", value: from + i }));
  const response = await postJson(`${agent.url}/api/v1/readings`, readings);
  assert.equal(response.status, 201, JSON.stringify(response.body));
}

async function waitState(agent: AgentHandle, state: string, timeoutMs = 45_000) {
  await eventually(
    async () => (await syncStatus(agent)).state === state,
    `${agent.deviceId} to be ${state}`,
    timeoutMs,
  ).catch(async (error) => {
    throw new Error(
      `${error.message}; last ${JSON.stringify(await syncStatus(agent).catch(() => "?"))}\n` +
        agent.process.output.slice(-10).join("\n"),
    );
  });
}

async function stopAll(cloud: CloudHandle, ...agents: (AgentHandle | undefined)[]) {
  for (const agent of agents) await agent?.process.stop();
  await cloud.process.stop();
}

Deno.test("an agent that lost its data dir waits for approval, then syncs after what the cloud holds", async () => {
  const cloud = await startCloud();
  let first: AgentHandle | undefined;
  let second: AgentHandle | undefined;
  try {
    first = await startAgentProcess({ deviceId: "wiped-1", cloudUrl: cloud.url });
    await write(first, 50);
    await waitDrained(first);
    await first.process.stop();
    await Deno.remove(first.dataDir, { recursive: true });

    // Same id, new data dir: a new device secret. The token alone does not get it in.
    second = await startAgentProcess({ deviceId: "wiped-1", cloudUrl: cloud.url });
    await waitState(second, "pending_approval");
    const status = await syncStatus(second);
    assert.match(status.lastError ?? "", /waits for an operator's approval/);
    await write(second, 10, 1000); // local writes keep working meanwhile
    const requests = await cloud.admin<{ items: { id: string; deviceId: string }[] }>(
      "/api/v1/enrollment-requests",
    );
    assert.deepEqual(requests.body.items.map((r) => r.deviceId), ["wiped-1"]);
    const approved = await cloud.admin(
      `/api/v1/enrollment-requests/${requests.body.items[0].id}/approve`,
      { method: "POST" },
    );
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await waitDrained(second, 60_000);
    // Its fresh records were renumbered after the 50 the cloud holds: nothing lost as a
    // "duplicate" of the old ones.
    const device = await cloud.admin<{ ackedSeq: number; stats: { readings: number } }>(
      "/api/v1/devices/wiped-1",
    );
    assert.deepEqual([device.body.ackedSeq, device.body.stats.readings], [60, 60]);
  } finally {
    await stopAll(cloud, first, second);
  }
});

Deno.test("a revoked agent shows refused and syncs again once reinstated", async () => {
  const cloud = await startCloud();
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "revoked-1", cloudUrl: cloud.url });
    await write(agent, 5);
    await waitDrained(agent);
    const revoked = await cloud.admin("/api/v1/devices/revoked-1/revoke", { method: "POST" });
    assert.equal(revoked.status, 200);
    await waitState(agent, "refused");
    assert.match((await syncStatus(agent)).lastError ?? "", /403 device_revoked/);
    await write(agent, 5, 100);
    const device = await cloud.admin<{ stats: { readings: number } }>("/api/v1/devices/revoked-1");
    assert.equal(device.body.stats.readings, 5, "nothing new is stored while revoked");
    await cloud.admin("/api/v1/devices/revoked-1/reinstate", { method: "POST" });
    await waitDrained(agent, 60_000);
    const after = await cloud.admin<{ stats: { readings: number } }>("/api/v1/devices/revoked-1");
    assert.equal(after.body.stats.readings, 10);
  } finally {
    await stopAll(cloud, agent);
  }
});
