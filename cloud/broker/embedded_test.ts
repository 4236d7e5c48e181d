import assert from "node:assert/strict";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { MetricsRegistry } from "@outpost/platform/metrics";
import type { Ack, Desired } from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import { createCloudApp } from "../http/app.ts";
import { createIngest } from "../ingest/ingest.ts";
import type { CloudStore } from "../store/store.ts";
import { collectingLogger, eventually, readingBatch, withStore } from "../testing/fixtures.ts";
import { deviceTableProvisioner, hashPassword } from "./credentials.ts";
import { Downlink } from "./downlink.ts";
import { FleetOperations } from "../fleet/operations.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "./embedded.ts";

const PASSWORD = "correct-horse-battery-staple";

interface Harness {
  store: CloudStore;
  broker: EmbeddedBroker;
  metrics: MetricsRegistry;
  /** Connects a device client (MQTT 3.1.1); closed after the test. */
  connect: (id: string, options?: IClientOptions) => Promise<MqttClient>;
  /** The cloud's HTTP app wired to this broker. */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  uplinks: string[];
}

async function withBroker(
  fn: (h: Harness) => Promise<void>,
  options: { ready?: () => boolean } = {},
): Promise<void> {
  await withStore(async (store) => {
    for (const id of ["pi-a", "pi-b"]) {
      await store.enrollDevice({ id, passwordHash: hashPassword(PASSWORD) });
    }
    const { logger } = collectingLogger();
    const metrics = new MetricsRegistry();
    const broker = await startEmbeddedBroker({
      hostname: "127.0.0.1",
      port: 0,
      passwordHash: (id) => store.passwordHash(id),
      isReady: options.ready ?? (() => true),
      logger,
      metrics,
    });
    const downlink = new Downlink({ link: broker, store, logger });
    const ingest = createIngest({ store, downlink, logger, metrics });
    const uplinks: string[] = [];
    await broker.subscribeUplink((topic, payload) => {
      uplinks.push(topic);
      return ingest.handle(topic, payload);
    });
    broker.onDeviceDisconnect!(ingest.deviceDisconnected);
    const provisioner = deviceTableProvisioner(broker);
    const app = createCloudApp({
      store,
      fleet: new FleetOperations({ store, downlink, logger, provisioner }),
      provisioner,
      logger,
      metrics,
      version: "test",
      adminToken: "admin-token-for-tests",
      enrollToken: "enroll-token-for-tests",
      broker: { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 4 },
    });
    const clients: MqttClient[] = [];
    const connect = async (id: string, extra: IClientOptions = {}) => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
        protocolVersion: 4,
        clientId: id,
        username: id,
        password: PASSWORD,
        reconnectPeriod: 0,
        connectTimeout: 2000,
        ...extra,
      });
      clients.push(client);
      return client;
    };
    const request = (path: string, init: RequestInit = {}) =>
      Promise.resolve(app.request(`http://cloud${path}`, {
        ...init,
        headers: {
          authorization: "Bearer admin-token-for-tests",
          "content-type": "application/json",
          ...init.headers,
        },
      }));
    try {
      await fn({ store, broker, metrics, connect, request, uplinks });
    } finally {
      await Promise.all(clients.map((client) => client.endAsync(true)));
      await broker.close();
      await ingest.drain();
    }
  });
}

function messages(client: MqttClient): { topic: string; payload: unknown; retain: boolean }[] {
  const received: { topic: string; payload: unknown; retain: boolean }[] = [];
  client.on("message", (topic, payload, packet) => {
    received.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain });
  });
  return received;
}

async function refusal(promise: Promise<MqttClient>): Promise<string> {
  try {
    const client = await promise;
    await client.endAsync(true);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the connection was accepted");
}

Deno.test("an enrolled device connects; a wrong password, an unknown user and a borrowed client id are refused", async () => {
  await withBroker(async ({ connect, broker, metrics }) => {
    const client = await connect("pi-a");
    assert.equal(client.connected, true);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const base = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 2000 };
    assert.match(
      await refusal(mqtt.connectAsync(url, {
        ...base,
        clientId: "pi-b",
        username: "pi-b",
        password: "wrong",
      })),
      /Bad username or password/,
    );
    assert.match(
      await refusal(mqtt.connectAsync(url, {
        ...base,
        clientId: "ghost",
        username: "ghost",
        password: PASSWORD,
      })),
      /Bad username or password/,
    );
    assert.match(
      await refusal(mqtt.connectAsync(url, {
        ...base,
        clientId: "pi-a",
        username: "pi-b",
        password: PASSWORD,
      })),
      /Identifier rejected/,
    );
    const text = await metrics.render();
    assert.match(text, /outpost_broker_auth_failures_total\{reason="wrong_password"\} 1/);
    assert.match(text, /outpost_broker_auth_failures_total\{reason="unknown_device"\} 1/);
    assert.match(text, /outpost_broker_auth_failures_total\{reason="client_id_mismatch"\} 1/);
  });
});

Deno.test("connections are refused as unavailable until the cloud is ready", async () => {
  await withBroker(async ({ connect }) => {
    assert.match(await refusal(connect("pi-a")), /Server unavailable/);
  }, { ready: () => false });
});

Deno.test("a batch published by a device is stored and the device receives the ack", async () => {
  await withBroker(async ({ connect, store }) => {
    const device = await connect("pi-a");
    const received = messages(device);
    await device.subscribeAsync(topics.deviceDownlink("pi-a"), { qos: 1 });
    await device.publishAsync(topics.batch("pi-a"), JSON.stringify(readingBatch(1, 50)), {
      qos: 1,
    });
    await eventually(() => received.length > 0, "the ack");
    const ack: Ack = { upTo: 50 };
    assert.deepEqual(received[0], { topic: topics.ack("pi-a"), payload: ack, retain: false });
    assert.equal((await store.getDevice("pi-a"))?.stats.readings, 50);
  });
});

Deno.test("large publishes (up to the 2 MiB limit) reach the ingest instead of stalling the connection", async () => {
  // Regression: under Deno's node:net, aedes' single read() per "readable" left data buffered
  // and a publish above ~190 KB never arrived.
  await withBroker(async ({ connect, store }) => {
    const device = await connect("pi-a");
    const batch = readingBatch(1, 1000);
    for (const record of batch.records) (record as { sensor: string }).sensor = "s".repeat(60);
    const payload = JSON.stringify({
      ...batch,
      records: batch.records.map((r) => ({ ...r, unit: "u".repeat(16) })),
    });
    const padded = payload.length < 600_000
      ? payload.replace('"from"', `"pad":"${"p".repeat(600_000 - payload.length)}","from"`)
      : payload;
    assert.ok(padded.length >= 600_000);
    await device.publishAsync(topics.batch("pi-a"), padded, { qos: 1 });
    await eventually(
      async () => (await store.getDevice("pi-a"))?.stats.readings === 1000,
      "1,000 readings stored",
    );
  });
});

Deno.test("device A cannot publish to device B's topics: the message never reaches the ingest", async () => {
  await withBroker(async ({ connect, store, uplinks, metrics }) => {
    const a = await connect("pi-a");
    const closed = new Promise<void>((resolve) => a.once("close", () => resolve()));
    a.publish(topics.batch("pi-b"), JSON.stringify(readingBatch(1, 3)), { qos: 0 });
    await closed; // MQTT 3.1.1 answers an unauthorized publish by closing the connection
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(uplinks, []);
    assert.equal((await store.getDevice("pi-b"))?.stats.readings, 0);
    assert.match(await metrics.render(), /outpost_broker_acl_denials_total\{action="publish"\} 1/);
  });
});

Deno.test("device A cannot subscribe to device B's downlink: the subscription is denied with 128", async () => {
  await withBroker(async ({ connect }) => {
    const a = await connect("pi-a");
    const own = await a.subscribeAsync(topics.deviceDownlink("pi-a"), { qos: 1 });
    assert.deepEqual(own.map((g) => g.qos), [1]);
    for (const filter of [topics.deviceDownlink("pi-b"), "outpost/v1/+/down/#", "#"]) {
      const granted = await a.subscribeAsync(filter, { qos: 1 }).then(
        (grants) => grants.map((g) => g.qos),
        (error) => (error as { packet?: { granted?: number[] } }).packet?.granted,
      );
      assert.deepEqual(granted, [128], filter);
    }
    assert.equal(a.connected, true, "a denied subscription keeps the connection");
  });
});

Deno.test("a desired state PUT reaches a device that subscribes later as a retained message", async () => {
  await withBroker(async ({ connect, request }) => {
    const response = await request("/api/v1/devices/pi-a/desired", {
      method: "PUT",
      body: JSON.stringify({ interval: 30 }),
    });
    assert.deepEqual(await response.json(), { version: 1 });
    const device = await connect("pi-a");
    const received = messages(device);
    await device.subscribeAsync(topics.deviceDownlink("pi-a"), { qos: 1 });
    await eventually(() => received.length > 0, "the retained desired state");
    const desired: Desired = { version: 1, desired: { interval: 30 } };
    assert.deepEqual(received[0], {
      topic: topics.desired("pi-a"),
      payload: desired,
      retain: true,
    });
  });
});

Deno.test("a device that connects and announces itself gets its queued commands and shows online", async () => {
  await withBroker(async ({ connect, request, store }) => {
    const created = await request("/api/v1/devices/pi-b/commands", {
      method: "POST",
      body: JSON.stringify({ name: "ping" }),
    });
    const { id } = await created.json();
    const device = await connect("pi-b");
    const received = messages(device);
    await device.subscribeAsync(topics.deviceDownlink("pi-b"), { qos: 1 });
    await device.publishAsync(topics.status("pi-b"), JSON.stringify({ online: true }), {
      qos: 1,
      retain: true,
    });
    await eventually(() => received.some((m) => m.topic === topics.command("pi-b")), "command");
    assert.deepEqual(received.find((m) => m.topic === topics.command("pi-b"))?.payload, {
      id,
      name: "ping",
    });
    await eventually(
      async () => (await store.getCommand("pi-b", id))?.status === "delivered",
      "delivered",
    );
    assert.equal((await store.getDevice("pi-b"))?.online, true);
  });
});

Deno.test("a device is marked offline when its connection drops and when it disconnects cleanly", async () => {
  await withBroker(async ({ connect, store }) => {
    const online = JSON.stringify({ online: true });
    const will = {
      topic: topics.status("pi-a"),
      payload: JSON.stringify({ online: false }),
      qos: 1 as const,
      retain: true,
    };
    const a = await connect("pi-a", { will });
    await a.publishAsync(topics.status("pi-a"), online, { qos: 1, retain: true });
    await eventually(async () => (await store.countOnline()) === 1, "pi-a online");
    a.stream.destroy(); // an unclean loss: the broker publishes the Last Will
    await eventually(async () => (await store.countOnline()) === 0, "pi-a offline by its will");

    const b = await connect("pi-b");
    await b.publishAsync(topics.status("pi-b"), online, { qos: 1, retain: true });
    await eventually(async () => (await store.countOnline()) === 1, "pi-b online");
    await b.endAsync(); // clean DISCONNECT: no will, the broker's disconnect event does it
    await eventually(async () => (await store.countOnline()) === 0, "pi-b offline on disconnect");
  });
});
