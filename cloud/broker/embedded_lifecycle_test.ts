/**
 * Device identity and lifecycle on the embedded broker, end to end: the cloud's HTTP app,
 * the real aedes broker and ingest, and devices connecting with MQTT.js (issue 15: the
 * takeover, lag poisoning and decommission cases; Mosquitto's twin is
 * tests/system/device_lifecycle_test.ts).
 */
import assert from "node:assert/strict";
import mqtt, { type MqttClient } from "mqtt";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { type EnrollResponse, topics } from "@outpost/protocol";
import { createCloudApp } from "../http/app.ts";
import { createIngest } from "../ingest/ingest.ts";
import type { CloudStore } from "../store/store.ts";
import { collectingLogger, eventually, readingBatch, withStore } from "../testing/fixtures.ts";
import { deviceTableProvisioner } from "./credentials.ts";
import { Downlink } from "./downlink.ts";
import { FleetOperations } from "../fleet/operations.ts";
import { startEmbeddedBroker } from "./embedded.ts";

const TOKEN = "enroll-token-for-tests";
const SECRET = "device-secret-0123456789abcdef0123456789ab";

interface Harness {
  store: CloudStore;
  /** A JSON request to the cloud app (admin token set). */
  http: (method: string, path: string, body?: unknown) => Promise<Response>;
  enroll: (id: string, body?: Record<string, unknown>) => Promise<Response>;
  /** Connects as a device with enrolled credentials; resolves once connected. */
  connect: (credentials: EnrollResponse["mqtt"], clientId: string) => Promise<MqttClient>;
  url: string;
}

async function withCloud(fn: (h: Harness) => Promise<void>): Promise<void> {
  await withStore(async (store) => {
    const { logger } = collectingLogger();
    const metrics = new MetricsRegistry();
    const broker = await startEmbeddedBroker({
      hostname: "127.0.0.1",
      port: 0,
      passwordHash: (id) => store.passwordHash(id),
      isReady: () => true,
      logger,
      metrics,
    });
    const downlink = new Downlink({ link: broker, store, logger });
    const ingest = createIngest({ store, downlink, logger, metrics, maxSeqGap: 1_000_000 });
    await broker.subscribeUplink(ingest.handle);
    broker.onDeviceDisconnect!(ingest.deviceDisconnected);
    const provisioner = deviceTableProvisioner(broker);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const app = createCloudApp({
      store,
      fleet: new FleetOperations({ store, downlink, logger, provisioner }),
      provisioner,
      logger,
      metrics,
      version: "test",
      adminToken: "admin-token-for-tests",
      enrollToken: TOKEN,
      broker: { url, protocolVersion: 4 },
    });
    const clients: MqttClient[] = [];
    const http = async (method: string, path: string, body?: unknown) =>
      await app.request(`http://cloud${path}`, {
        method,
        headers: {
          authorization: "Bearer admin-token-for-tests",
          "content-type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const enroll = (id: string, body: Record<string, unknown> = {}) =>
      http("POST", "/api/v1/enroll", { deviceId: id, token: TOKEN, deviceSecret: SECRET, ...body });
    const connect = async (credentials: EnrollResponse["mqtt"], clientId: string) => {
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 4,
        clientId,
        username: credentials.username,
        password: credentials.password,
        reconnectPeriod: 0,
        connectTimeout: 2000,
      });
      clients.push(client);
      return client;
    };
    try {
      await fn({ store, http, enroll, connect, url });
    } finally {
      await Promise.all(clients.map((client) => client.endAsync(true)));
      await broker.close();
      await ingest.drain();
    }
  });
}

async function credentialsOf(response: Response): Promise<EnrollResponse["mqtt"]> {
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).mqtt;
}

/** Resolves with the CONNACK refusal's message; fails if the connection is accepted. */
async function refused(url: string, credentials: EnrollResponse["mqtt"]): Promise<string> {
  try {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: credentials.username,
      username: credentials.username,
      password: credentials.password,
      reconnectPeriod: 0,
      connectTimeout: 2000,
    });
    await client.endAsync(true);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the connection was accepted");
}

function closed(client: MqttClient): () => boolean {
  let gone = false;
  client.on("close", () => gone = true);
  return () => gone;
}

Deno.test("embedded: re-enrolling with the device secret ends the old session at once; its password is refused", async () => {
  await withCloud(async (h) => {
    const first = await credentialsOf(await h.enroll("pi-1"));
    const device = await h.connect(first, "pi-1");
    const isClosed = closed(device);
    const second = await credentialsOf(await h.enroll("pi-1"));
    await eventually(isClosed, "the old session to be disconnected");
    assert.match(await refused(h.url, first), /Bad username or password/);
    const renewed = await h.connect(second, "pi-1");
    assert.equal(renewed.connected, true);
  });
});

Deno.test("embedded: the enrollment token cannot take over a device; its session stays and its password works", async () => {
  await withCloud(async (h) => {
    const mine = await credentialsOf(await h.enroll("pi-1"));
    const device = await h.connect(mine, "pi-1");
    const isClosed = closed(device);
    const attack = await h.enroll("pi-1", {
      deviceSecret: "attacker-secret-0123456789abcdef012345",
    });
    assert.equal(attack.status, 202);
    const body = await attack.json();
    assert.ok(!("mqtt" in body), "no credentials handed out");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(isClosed(), false, "the device is still connected");
    await device.publishAsync(topics.batch("pi-1"), JSON.stringify(readingBatch(1, 2)), { qos: 1 });
    await eventually(
      async () => (await h.store.getDevice("pi-1"))?.ackedSeq === 2,
      "the device's batch to be stored",
    );
  });
});

Deno.test("embedded: revoke drops the current session and refuses the next connect; reinstate lets it re-enroll", async () => {
  await withCloud(async (h) => {
    const credentials = await credentialsOf(await h.enroll("pi-1"));
    const device = await h.connect(credentials, "pi-1");
    const isClosed = closed(device);
    assert.equal((await h.http("POST", "/api/v1/devices/pi-1/revoke")).status, 200);
    await eventually(isClosed, "the session to be dropped");
    assert.match(await refused(h.url, credentials), /Bad username or password/);
    assert.equal((await h.enroll("pi-1")).status, 403);
    await h.http("POST", "/api/v1/devices/pi-1/reinstate");
    const back = await credentialsOf(await h.enroll("pi-1"));
    assert.equal((await h.connect(back, "pi-1")).connected, true);
  });
});

Deno.test("embedded: decommission drops the session, refuses connect and enrollment, and stores nothing more", async () => {
  await withCloud(async (h) => {
    const credentials = await credentialsOf(await h.enroll("pi-1"));
    const device = await h.connect(credentials, "pi-1");
    await device.publishAsync(topics.batch("pi-1"), JSON.stringify(readingBatch(1, 3)), { qos: 1 });
    await eventually(
      async () => (await h.store.getDevice("pi-1"))?.ackedSeq === 3,
      "the first batch",
    );
    const isClosed = closed(device);
    const response = await h.http("POST", "/api/v1/devices/pi-1/decommission");
    assert.equal((await response.json()).status, "decommissioned");
    await eventually(isClosed, "the session to be dropped");
    assert.match(await refused(h.url, credentials), /Bad username or password/);
    assert.equal((await h.enroll("pi-1")).status, 403);
    const detail = await h.store.getDevice("pi-1");
    assert.deepEqual([detail?.status, detail?.stats.readings, detail?.online], [
      "decommissioned",
      3,
      false,
    ]);
  });
});

Deno.test("embedded: a batch with from=to=9007199254740990 is refused, the device is told why, and the lag stays true", async () => {
  await withCloud(async (h) => {
    const credentials = await credentialsOf(await h.enroll("pi-1"));
    const device = await h.connect(credentials, "pi-1");
    const acks: Record<string, unknown>[] = [];
    device.on("message", (_topic, payload) => acks.push(JSON.parse(payload.toString())));
    await device.subscribeAsync(topics.ack("pi-1"), { qos: 1 });
    await device.publishAsync(topics.batch("pi-1"), JSON.stringify(readingBatch(1, 5)), { qos: 1 });
    const poison = {
      from: 9007199254740990,
      to: 9007199254740990,
      records: [{ ...readingBatch(1, 1).records[0], seq: 9007199254740990 }],
    };
    await device.publishAsync(topics.batch("pi-1"), JSON.stringify(poison), { qos: 1 });
    await device.publishAsync(
      topics.status("pi-1"),
      JSON.stringify({ online: true, lastSeq: 9007199254740990 }),
      { qos: 1 },
    );
    await eventually(() => acks.some((ack) => "refused" in ack), "the refusal note");
    const note = acks.find((ack) => "refused" in ack) as {
      upTo: number;
      refused: { reason: string; from: number };
    };
    assert.deepEqual([note.upTo, note.refused.reason, note.refused.from], [
      5,
      "implausible_seq",
      9007199254740990,
    ]);
    await eventually(
      async () => (await h.store.getDevice("pi-1"))?.online === true,
      "the status to be applied",
    );
    const device1 = await (await h.http("GET", "/api/v1/devices/pi-1")).json();
    assert.equal(device1.ackedSeq, 5);
    assert.ok(device1.lag <= 1_000_000, `lag ${device1.lag} stays within OUTPOST_MAX_SEQ_GAP`);
    assert.equal(device1.stats.readings, 5);
  });
});
