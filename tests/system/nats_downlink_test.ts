/**
 * Downlink on NATS without a JetStream consumer per device (issue 19): the cloud tells devices
 * to subscribe at QoS 0 (`downlinkQos`), so a connected agent costs the cluster no consumer,
 * and what the agent misses while it is away reaches it through the answer to its hello: a
 * command queued and a desired state set while the agent was stopped are both applied after it
 * comes back. A real nats-server, cloud and agent process.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { eventually } from "../support/stack.ts";
import { storedMqttCredentials, withNatsAgent } from "./nats_helpers.ts";

/** The consumers of the NATS MQTT layer's QoS 1 message stream (one per QoS 1 subscription). */
async function mqttConsumers(jsm: Awaited<ReturnType<typeof jetstreamManager>>) {
  const names: string[] = [];
  for await (const consumer of jsm.consumers.list("$MQTT_msgs")) names.push(consumer.name);
  return names;
}

Deno.test("NATS: devices subscribe at QoS 0 (no consumer each); what they miss offline comes with the hello answer", async () => {
  await withNatsAgent("qos0-1", {}, async ({ cloud, observer, agent }) => {
    const device = async () =>
      (await cloud.admin<{ online: boolean }>("/api/v1/devices/qos0-1")).body;
    await eventually(async () => (await device()).online === true, "qos0-1 online", 60_000);
    const credentials = await storedMqttCredentials(agent.dataDir);
    assert.equal(credentials.downlinkQos, 0, "the cloud on NATS asks for QoS 0");
    const jsm = await jetstreamManager(observer);
    // The stream exists once an MQTT client connected (the agent and the cloud did).
    assert.deepEqual(await mqttConsumers(jsm), [], "no JetStream consumer for the agent");

    await agent.process.stop();
    await eventually(async () => (await device()).online === false, "qos0-1 offline", 30_000);
    const queued = await cloud.admin<{ id: string }>("/api/v1/devices/qos0-1/commands", {
      method: "POST",
      body: JSON.stringify({ name: "ping" }),
    });
    assert.equal(queued.status, 201, JSON.stringify(queued.body));
    const desired = await cloud.admin<{ version: number }>("/api/v1/devices/qos0-1/desired", {
      method: "PUT",
      body: JSON.stringify({ sampleIntervalMs: 4321 }),
    });
    assert.equal(desired.status, 200, JSON.stringify(desired.body));

    await agent.restart();
    const command = `/api/v1/devices/qos0-1/commands/${queued.body.id}`;
    await eventually(
      async () => (await cloud.admin<{ status: string }>(command)).body.status === "succeeded",
      "the command queued while the agent was away ran after it came back",
      30_000,
    );
    await eventually(
      async () => {
        const config = await (await fetch(`${agent.url}/api/v1/config`)).json();
        return config.appliedVersion === desired.body.version;
      },
      "the desired state set while the agent was away reached it",
      30_000,
    );
    assert.deepEqual(await mqttConsumers(jsm), [], "still no consumer after the reconnect");
  });
});
