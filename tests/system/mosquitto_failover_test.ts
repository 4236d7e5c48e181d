/**
 * Exactly once through failures around Mosquitto: two cloud replicas on one `$share`
 * subscription with one SIGKILLed mid-stream, and the broker itself restarted mid-stream.
 * What a dead replica had taken but not committed, or what the broker dropped while nobody was
 * subscribed, was never acked: devices resend it (ack timeout, or on reconnect).
 */
import assert from "node:assert/strict";
import { startMosquitto, startMosquittoCloud, waitIngestSubscribed } from "../support/mosquitto.ts";
import { type AgentHandle, startAgentProcess } from "../support/stack.ts";
import {
  assertExactlyOnce,
  handledBatches,
  startWriter,
  waitDrained,
} from "./mosquitto_helpers.ts";

function countLines(handles: { process: { output: string[] } }[], text: string): number {
  return handles.reduce(
    (n, handle) => n + handle.process.output.filter((line) => line.includes(text)).length,
    0,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("Mosquitto: two cloud replicas share the uplink and, with one SIGKILLed mid-stream, every record arrives exactly once", async () => {
  const broker = await startMosquitto();
  const primary = await startMosquittoCloud(broker);
  // The second replica shares the first one's database, as replicas share PostgreSQL.
  const replica = await startMosquittoCloud(broker, {
    env: { DATABASE_URL: `file:${primary.dataDir}/cloud.db` },
  });
  const agents: AgentHandle[] = [];
  try {
    for (const deviceId of ["share-1", "share-2"]) {
      agents.push(await startAgentProcess({ deviceId, cloudUrl: primary.url }));
    }
    const writers = agents.map((agent) => startWriter(agent, 100));
    await sleep(2_000);
    const before = [await handledBatches(primary), await handledBatches(replica)];
    assert.ok(before[0] > 0 && before[1] > 0, `both replicas take uplink messages: ${before}`);
    replica.process.signal("SIGKILL");
    await replica.process.status;
    await sleep(1_500);
    const written = await Promise.all(writers.map((writer) => writer.stop()));
    for (const [i, agent] of agents.entries()) {
      await waitDrained(agent);
      assert.equal(assertExactlyOnce(agent, primary.dataDir), written[i].length);
    }
    const after = await handledBatches(primary);
    assert.ok(after > before[0], "the surviving replica kept ingesting after the kill");
    console.log(
      `batches handled before the kill: ${before.join(" + ")}; by the survivor after: ${
        after - before[0]
      }; agent resends after an ack timeout: ${countLines(agents, "no ack in time")}; ` +
        `store errors: ${countLines([primary, replica], '"store_error"')}`,
    );
  } finally {
    for (const agent of agents) await agent.process.stop();
    await replica.process.stop();
    await primary.process.stop();
    await broker.dispose();
  }
});

Deno.test("Mosquitto restarted mid-stream keeps its dynsec clients and sessions, and every record arrives exactly once", async () => {
  const broker = await startMosquitto();
  const cloud = await startMosquittoCloud(broker);
  let agent: AgentHandle | undefined;
  try {
    agent = await startAgentProcess({ deviceId: "restart-1", cloudUrl: cloud.url });
    const writer = startWriter(agent, 100);
    await sleep(1_500);
    const linesBefore = cloud.process.output.length;
    await broker.stop();
    await sleep(500); // the agent keeps accepting writes while the broker is down
    await broker.start();
    await waitIngestSubscribed(cloud, linesBefore);
    await sleep(1_500);
    const written = await writer.stop();
    await waitDrained(agent);
    assert.equal(assertExactlyOnce(agent, cloud.dataDir), written.length);
    // The device's dynsec client survived the restart: no re-enrollment was needed.
    assert.ok(
      !agent.process.output.some((line) => line.includes("enrolling again")),
      "the agent had to enroll again: dynsec state was lost",
    );
    assert.ok((await Deno.stat(`${broker.dir}/mosquitto.db`)).isFile, "persistence wrote its db");
    console.log(
      `${written.length} readings; agent resends after an ack timeout: ${
        countLines([agent], "no ack in time")
      }`,
    );
  } finally {
    await agent?.process.stop();
    await cloud.process.stop();
    await broker.dispose();
  }
});
