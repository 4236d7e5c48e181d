import assert from "node:assert/strict";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { createServer } from "node:net";
import { topics } from "@outpost/protocol";
import { collectingLogger, eventually } from "../testing/fixtures.ts";
import { connectExternalBroker, redactUrl } from "./external.ts";

// The real external broker is Mosquitto (MQTT 5, $share), exercised by the system tests; here
// a plain aedes checks the link's mechanics over MQTT 3.1.1 with a non-shared filter.
Deno.test("the external link ingests uplink messages, holds the PUBACK until handled, and publishes", async () => {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const { logger } = collectingLogger();
  const link = connectExternalBroker({
    url,
    logger,
    clientId: "cloud-test",
    protocolVersion: 4,
    uplinkFilter: topics.allUplink,
  });
  const device = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const handled: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    await link.subscribeUplink(async (topic, payload) => {
      await gate;
      handled.push(`${topic} ${new TextDecoder().decode(payload)}`);
    });
    await eventually(
      () => (broker as unknown as { connectedClients: number }).connectedClients === 2,
      "the link to connect",
    );
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the SUBSCRIBE land
    let linkAcked = false;
    broker.on("ack", (_packet, client) => {
      if (client.id === "cloud-test") linkAcked = true;
    });
    await device.publishAsync(topics.batch("pi-1"), "{}", { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(handled.length, 0);
    assert.equal(linkAcked, false, "no PUBACK from the cloud while the handler runs");
    release();
    await eventually(() => linkAcked, "the cloud's PUBACK after the handler settled");
    assert.deepEqual(handled, [`${topics.batch("pi-1")} {}`]);

    const received: string[] = [];
    await device.subscribeAsync(topics.deviceDownlink("pi-1"), { qos: 1 });
    device.on("message", (topic, payload) => received.push(`${topic} ${payload}`));
    await link.publish(topics.ack("pi-1"), JSON.stringify({ upTo: 1 }), { qos: 1, retain: true });
    await eventually(() => received.length === 1, "the ack");
    assert.deepEqual(received, [`${topics.ack("pi-1")} {"upTo":1}`]);
  } finally {
    await device.endAsync(true);
    await link.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

Deno.test("the external link refuses to publish while disconnected instead of queueing", async () => {
  const { logger } = collectingLogger();
  const link = connectExternalBroker({
    url: "mqtt://127.0.0.1:1",
    logger,
    protocolVersion: 4,
    reconnectPeriod: 60_000,
  });
  try {
    await assert.rejects(
      link.publish(topics.ack("pi-1"), "{}", { qos: 1, retain: false }),
      /MQTT broker mqtt:\/\/127\.0\.0\.1:1 is not connected/,
    );
  } finally {
    await link.close();
  }
});

Deno.test("broker URLs lose their credentials in logs", () => {
  assert.equal(
    redactUrl("mqtts://admin:pw@mqtt.example.com:8883"),
    "mqtts://mqtt.example.com:8883",
  );
  assert.equal(redactUrl("not a url"), "(invalid URL)");
});
