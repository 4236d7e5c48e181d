import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { Aedes } from "aedes";
import { Buffer } from "node:buffer";
import { createLogger } from "@outpost/platform/log";
import { openAgentStore } from "../store/open.ts";
import { CREDENTIALS_FILE, saveCredentials } from "./credentials.ts";
import { SyncService, type SyncServiceOptions } from "./service.ts";
import { CloudProbe } from "./cloud_probe.ts";

const CLOUD = "http://127.0.0.1:9";

/** A sync service of device pi-1 on `store` and `dir`, silent unless `overrides` give a logger. */
function serviceOf(
  store: SyncServiceOptions["store"],
  dir: string,
  overrides: Partial<SyncServiceOptions> = {},
): SyncService {
  return new SyncService({
    store,
    logger: createLogger({ write: () => {} }),
    deviceId: "pi-1",
    dataDir: dir,
    cloudUrl: CLOUD,
    version: "test",
    ...overrides,
  });
}

async function withService(
  mqttUrl: string,
  fn: (service: SyncService, logs: string[], dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-sync-" });
  const { store, handle } = await openAgentStore(dir);
  // Enrolled before: the stored credentials are used as they are.
  await saveCredentials(dir, {
    cloudUrl: CLOUD,
    deviceId: "pi-1",
    enrolledAt: new Date().toISOString(),
    mqtt: { url: mqttUrl, username: "pi-1", password: "s3cret-password", protocolVersion: 5 },
  });
  const logs: string[] = [];
  const service = serviceOf(store, dir, {
    logger: createLogger({ write: (line) => logs.push(line) }),
  });
  try {
    await service.start();
    await fn(service, logs, dir);
  } finally {
    await service.stop();
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("the agent refuses to send its password over plaintext MQTT to another host and says why", async () => {
  // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing must be tried.
  await withService("mqtt://192.0.2.10:1883", async (service, logs, dir) => {
    await until(() => service.connection().lastError !== null, "lastError");
    const { state, lastError } = service.connection();
    assert.equal(state, "offline");
    assert.match(
      lastError!,
      /Refusing to send the MQTT password in plaintext to mqtt:\/\/192\.0\.2\.10:1883/,
    );
    const line = logs.find((l) => l.includes("password would travel in plaintext"));
    assert.ok(line, logs.join("\n"));
    assert.doesNotMatch(logs.join("\n"), /s3cret-password/, "the password is never logged");
    // The cloud handed that URL out: the agent forgets it and will enroll again later.
    await until(() => !existsSync(`${dir}/${CREDENTIALS_FILE}`), "the credentials to be forgotten");
  });
});

Deno.test("plaintext MQTT to a loopback broker is still allowed for development", async () => {
  // A listener that accepts and then closes: the agent must at least try to connect.
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await withService(`mqtt://127.0.0.1:${port}`, async (service) => {
      await until(() => connections > 0, "a connection attempt");
      assert.doesNotMatch(service.connection().lastError ?? "", /Refusing/);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A bare aedes on loopback; with `holdBatches` it never acks a batch (no PUBACK). */
async function startTestBroker(port: number, holdBatches: boolean) {
  const broker = new Aedes({
    authorizePublish(_client, packet, done) {
      if (holdBatches && packet.topic.endsWith("/up/batch")) return;
      done(null);
    },
  });
  await broker.listen();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

Deno.test("stop returns at once after a reconnect that left a batch unacked in flight", async () => {
  // Regression (chaos suite): MQTT.js's graceful end waited forever for the PUBACK of a batch
  // sent just before the broker went away, so the agent hung on SIGTERM until it was killed.
  let broker = await startTestBroker(0, true);
  const port = broker.port;
  const dir = await Deno.makeTempDir({ prefix: "outpost-sync-" });
  const { store, handle } = await openAgentStore(dir);
  await saveCredentials(dir, {
    cloudUrl: CLOUD,
    deviceId: "pi-1",
    enrolledAt: new Date().toISOString(),
    mqtt: { url: `mqtt://127.0.0.1:${port}`, username: "pi-1", password: "pw", protocolVersion: 4 },
  });
  const service = serviceOf(store, dir, {
    backoff: { next: () => 50, reset() {}, attempt: 0 },
    // Nothing answers hello here: the batch must go out soon after the connect.
    helloTimeoutMs: 50,
  });
  let stopped = false;
  try {
    await service.start();
    await until(() => service.connection().state === "online", "the first connection");
    await store.insertReadings([{ sensor: "t", value: 1, unit: "", ts: 0 }]);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the batch is sent, never acked
    await broker.close();
    await until(() => service.connection().state !== "online", "the connection to drop");
    broker = await startTestBroker(port, false);
    await until(() => service.connection().state === "online", "the reconnection");
    const started = Date.now();
    const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000));
    stopped = await Promise.race([service.stop().then(() => true), timeout]);
    assert.ok(stopped, "stop() did not return within 5 s");
    assert.ok(Date.now() - started < 3000, `stop() took ${Date.now() - started} ms`);
  } finally {
    if (!stopped) await service.stop().catch(() => {});
    await broker.close();
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A stand-in for the cloud's `/healthz` on `port` (0: any). */
function startHealth(port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => Response.json({ status: "ok" }),
  );
}

Deno.test("after the cloud comes back the agent reconnects within seconds, though its backoff says 30 s", async () => {
  let broker = await startTestBroker(0, false);
  const port = broker.port;
  let health = startHealth(0);
  const cloudUrl = `http://127.0.0.1:${health.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "outpost-sync-" });
  const { store, handle } = await openAgentStore(dir);
  await saveCredentials(dir, {
    cloudUrl,
    deviceId: "pi-1",
    enrolledAt: new Date().toISOString(),
    mqtt: { url: `mqtt://127.0.0.1:${port}`, username: "pi-1", password: "pw", protocolVersion: 4 },
  });
  const service = serviceOf(store, dir, {
    cloudUrl,
    // What a long outage leaves behind: every next attempt 30 s away.
    backoff: { next: () => 30_000, reset() {}, attempt: 0 },
    probe: new CloudProbe({ cloudUrl, intervalMs: 100, spreadMs: 100 }),
  });
  try {
    await service.start();
    await until(() => service.connection().state === "online", "the first connection");
    const onlineSince = service.connection().since;
    assert.ok(onlineSince, "online since a time");
    await Promise.all([broker.close(), health.shutdown()]);
    await until(() => service.connection().state === "offline", "the connection to drop");
    const down = service.connection();
    assert.equal(down.problem, "broker_unreachable");
    assert.ok(down.since && down.since >= onlineSince, "failing since the drop");
    assert.ok(down.nextAttemptAt, "the next attempt is announced");
    await new Promise((resolve) => setTimeout(resolve, 400)); // the probes see the cloud down
    broker = await startTestBroker(port, false);
    health = startHealth(health.addr.port);
    const back = Date.now();
    await until(() => service.connection().state === "online", "the reconnection");
    assert.ok(Date.now() - back < 3000, `reconnected ${Date.now() - back} ms after the cloud`);
    const up = service.connection();
    assert.equal(up.problem, null);
    assert.equal(up.lastError, null);
    assert.equal(up.nextAttemptAt, null);
  } finally {
    await service.stop();
    await broker.close();
    await health.shutdown().catch(() => {});
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A bare aedes standing in for broker and cloud: it records what devices publish and, with
 * `answerHello`, answers each `up/hello` with that ack (not retained) after `answerDelayMs`.
 */
async function startAnsweringBroker(
  options: { port?: number; answerHello?: () => number | undefined; answerDelayMs?: number } = {},
) {
  const broker = new Aedes();
  await broker.listen();
  const received: { topic: string; payload: Record<string, unknown>; at: number }[] = [];
  const publish = (topic: string, payload: unknown, retain: boolean) =>
    new Promise<void>((resolve, reject) =>
      broker.publish(
        {
          cmd: "publish",
          topic,
          payload: Buffer.from(JSON.stringify(payload)),
          qos: 1,
          retain,
          dup: false,
        },
        (error) => error ? reject(error) : resolve(),
      )
    );
  await new Promise<void>((resolve) =>
    broker.subscribe("outpost/v1/+/up/#", (packet, done) => {
      const payload = JSON.parse(packet.payload.toString());
      received.push({ topic: packet.topic, payload, at: Date.now() });
      const upTo = packet.topic.endsWith("/up/hello") ? options.answerHello?.() : undefined;
      if (upTo !== undefined) {
        const device = packet.topic.split("/")[2];
        setTimeout(
          () => publish(`outpost/v1/${device}/down/ack`, { upTo }, false),
          options.answerDelayMs ?? 0,
        );
      }
      done();
    }, resolve)
  );
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    received,
    publish,
    batches: () => received.filter((m) => m.topic.endsWith("/up/batch")),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function withStoredCredentials(
  mqtt: { url: string; urls?: string[] },
  fn: (store: Awaited<ReturnType<typeof openAgentStore>>["store"], dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-sync-" });
  const { store, handle } = await openAgentStore(dir);
  await saveCredentials(dir, {
    cloudUrl: CLOUD,
    deviceId: "pi-1",
    enrolledAt: new Date().toISOString(),
    mqtt: { ...mqtt, username: "pi-1", password: "pw", protocolVersion: 4 },
  });
  try {
    await fn(store, dir);
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const readings = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ sensor: "t", value: i, unit: "", ts: 0 }));

Deno.test("on connect the agent says hello with its outbox position and sends only what the answer says the cloud lacks", async () => {
  const broker = await startAnsweringBroker({ answerHello: () => 3, answerDelayMs: 300 });
  await withStoredCredentials({ url: `mqtt://127.0.0.1:${broker.port}` }, async (store, dir) => {
    await store.insertReadings(readings(5));
    // A stale retained ack (a broker node that missed the later ones) must not start the upload.
    await broker.publish("outpost/v1/pi-1/down/ack", { upTo: 1 }, true);
    const service = serviceOf(store, dir, {
      version: "9.9.9",
      helloTimeoutMs: 5_000,
    });
    try {
      await service.start();
      await until(() => broker.batches().length > 0, "a batch");
      const hello = broker.received.find((m) => m.topic === "outpost/v1/pi-1/up/hello");
      assert.deepEqual(hello?.payload, {
        v: 1,
        agentVersion: "9.9.9",
        outbox: { head: 5, acked: 0 },
        desiredVersion: 0,
      });
      const first = broker.batches()[0];
      assert.equal(first.payload.from, 4, "records 1..3 are not sent again");
      assert.ok(first.at - hello!.at >= 250, "the upload waited for the answer");
      assert.equal((await store.outboxStats()).ackedSeq, 3);
    } finally {
      await service.stop();
      await broker.close();
    }
  });
});

Deno.test("with no answer to hello the agent sends from its own acked seq after the hello timeout", async () => {
  const broker = await startAnsweringBroker();
  await withStoredCredentials({ url: `mqtt://127.0.0.1:${broker.port}` }, async (store, dir) => {
    await store.insertReadings(readings(2));
    const service = serviceOf(store, dir, {
      helloTimeoutMs: 400,
    });
    try {
      await service.start();
      await until(() => broker.batches().length > 0, "a batch");
      const hello = broker.received.find((m) => m.topic.endsWith("/up/hello"))!;
      assert.equal(broker.batches()[0].payload.from, 1);
      assert.ok(broker.batches()[0].at - hello.at >= 350, "sent after the timeout, not before");
    } finally {
      await service.stop();
      await broker.close();
    }
  });
});

Deno.test("with several broker URLs the agent skips a dead one, shows the one in use, and fails over when it drops", async () => {
  const deadPort = await (async () => {
    const probe = await startAnsweringBroker();
    await probe.close();
    return probe.port;
  })();
  const second = await startAnsweringBroker({ answerHello: () => 0 });
  const urls = [`mqtt://127.0.0.1:${deadPort}`, `mqtt://127.0.0.1:${second.port}`];
  await withStoredCredentials({ url: urls[0], urls }, async (store, dir) => {
    const logs: string[] = [];
    const service = serviceOf(store, dir, {
      logger: createLogger({ write: (line) => logs.push(line) }),
      backoff: { next: () => 100, reset() {}, attempt: 0 },
    });
    let first: Awaited<ReturnType<typeof startAnsweringBroker>> | undefined;
    try {
      await service.start();
      await until(() => service.connection().state === "online", "a connection");
      assert.equal(service.connection().brokerUrl, urls[1]);
      assert.ok(
        logs.some((line) => line.includes("broker connected") && line.includes(urls[1])),
        "the log names the broker in use",
      );
      await store.insertReadings(readings(1));
      await until(() => second.batches().length > 0, "the batch through the second broker");
      first = await startAnsweringBroker({ port: deadPort, answerHello: () => 1 });
      await second.close();
      await until(() => service.connection().brokerUrl === urls[0], "the failover");
      await until(() => service.connection().state === "online", "the reconnection");
      await store.insertReadings(readings(1));
      await until(() => first!.batches().length > 0, "a batch through the first broker");
      assert.equal(first.batches()[0].payload.from, 2, "the answer said 1 is held");
    } finally {
      await service.stop();
      await second.close().catch(() => {});
      await first?.close();
    }
  });
});

Deno.test("one plaintext URL among several stops the connection and is named", async () => {
  const urls = ["mqtt://127.0.0.1:9", "mqtt://192.0.2.10:1883"];
  await withStoredCredentials({ url: urls[0], urls }, async (store, dir) => {
    const service = serviceOf(store, dir);
    try {
      await service.start();
      await until(() => service.connection().lastError !== null, "lastError");
      const { state, problem, lastError } = service.connection();
      assert.deepEqual([state, problem], ["offline", "configuration"]);
      assert.match(lastError!, /in plaintext to mqtt:\/\/192\.0\.2\.10:1883/);
      assert.doesNotMatch(lastError!, /127\.0\.0\.1/);
    } finally {
      await service.stop();
    }
  });
});
