import assert from "node:assert/strict";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { topics } from "@outpost/protocol";
import {
  type DeviceCredentialsProvisioner,
  deviceTableProvisioner,
  ProvisioningError,
  unconfiguredProvisioner,
  verifyPassword,
} from "../broker/credentials.ts";
import { Downlink } from "../broker/downlink.ts";
import { FleetOperations } from "../fleet/operations.ts";
import type { CloudStore } from "../store/store.ts";
import { collectingLogger, readingBatch, RecordingLink, withStore } from "../testing/fixtures.ts";
import { type CloudAppOptions, createCloudApp } from "./app.ts";

const ADMIN = "admin-token-for-tests";
const ENROLL = "enroll-token-for-tests";
const AUTH = { authorization: `Bearer ${ADMIN}` };

interface Harness {
  store: CloudStore;
  link: RecordingLink;
  /** An admin request. */
  get: (path: string) => Promise<Response>;
  /** A JSON request (admin unless headers say otherwise). */
  send: (method: string, path: string, body: unknown, headers?: HeadersInit) => Promise<Response>;
  request: (path: string, init?: RequestInit) => Promise<Response>;
}

async function withApp(
  fn: (h: Harness) => Promise<void>,
  extra: Partial<CloudAppOptions> & { provisioner?: DeviceCredentialsProvisioner } = {},
): Promise<void> {
  await withStore(async (store) => {
    const link = new RecordingLink();
    const { logger } = collectingLogger();
    const provisioner = extra.provisioner ?? deviceTableProvisioner();
    const app = createCloudApp({
      store,
      fleet: new FleetOperations({
        store,
        downlink: new Downlink({ link, store, logger }),
        logger,
        provisioner,
      }),
      provisioner,
      logger,
      metrics: new MetricsRegistry(),
      version: "test",
      adminToken: ADMIN,
      enrollToken: ENROLL,
      broker: { url: "mqtt://127.0.0.1:1883", protocolVersion: 4 },
      ...extra,
    });
    const request = async (path: string, init?: RequestInit) =>
      await app.request(`http://cloud${path}`, init);
    const get = (path: string) => request(path, { headers: AUTH });
    const send = (method: string, path: string, body: unknown, headers: HeadersInit = AUTH) =>
      request(path, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    await fn({ store, link, get, send, request });
  });
}

async function expectError(response: Response, status: number, code: string) {
  assert.equal(response.status, status, await response.clone().text());
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = await response.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  return body.error;
}

/** A device secret for tests: what an agent generates and keeps in its data dir. */
function secretOf(deviceId: string): string {
  return `secret-of-${deviceId}-0123456789abcdef0123456789`;
}

async function enroll(h: Harness, deviceId: string, extra: Record<string, unknown> = {}) {
  const response = await h.send(
    "POST",
    "/api/v1/enroll",
    { deviceId, token: ENROLL, deviceSecret: secretOf(deviceId), ...extra },
    {},
  );
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

Deno.test("enrollment returns broker credentials that the device table verifies", async () => {
  await withApp(async (h) => {
    const body = await enroll(h, "pi-1", { labels: { site: "north" }, arch: "arm64" });
    assert.equal(body.deviceId, "pi-1");
    assert.deepEqual(
      { ...body.mqtt, password: undefined },
      {
        url: "mqtt://127.0.0.1:1883",
        urls: ["mqtt://127.0.0.1:1883"],
        username: "pi-1",
        password: undefined,
        protocolVersion: 4,
        downlinkQos: 1,
      },
    );
    assert.ok(body.mqtt.password.length >= 40);
    assert.ok(verifyPassword(body.mqtt.password, (await h.store.passwordHash("pi-1"))!));
    const device = await (await h.get("/api/v1/devices/pi-1")).json();
    assert.deepEqual(device.labels, { site: "north" });
    assert.equal(device.arch, "arm64");
  });
});

Deno.test("enrollment reports the sync position: a new device starts at its own acked seq, acks never go back", async () => {
  await withApp(async (h) => {
    assert.equal((await enroll(h, "fresh")).ackedSeq, 0);
    // A device that synced with a cloud whose database was lost resumes from its own position.
    assert.equal((await enroll(h, "veteran", { ackedSeq: 4200 })).ackedSeq, 4200);
    const device = await (await h.get("/api/v1/devices/veteran")).json();
    assert.equal(device.ackedSeq, 4200);
    // A device that lost its data dir learns where the cloud is; the cloud does not go back.
    assert.equal((await enroll(h, "veteran", { ackedSeq: 0 })).ackedSeq, 4200);
  });
});

Deno.test("enrolling again with the device secret rotates the password: the old one stops working", async () => {
  await withApp(async (h) => {
    const first = await enroll(h, "pi-1");
    const second = await enroll(h, "pi-1");
    assert.notEqual(first.mqtt.password, second.mqtt.password);
    const hash = (await h.store.passwordHash("pi-1"))!;
    assert.ok(!verifyPassword(first.mqtt.password, hash));
    assert.ok(verifyPassword(second.mqtt.password, hash));
  });
});

Deno.test("enrollment refuses a wrong token with 401 and bad bodies with 400, 415 and 422", async () => {
  await withApp(async (h) => {
    await expectError(
      await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: "wrong-token" }, {}),
      401,
      "unauthorized",
    );
    assert.equal(await h.store.deviceExists("pi-1"), false);
    const bad = await expectError(
      await h.send("POST", "/api/v1/enroll", { deviceId: "../etc", token: ENROLL }, {}),
      422,
      "validation_failed",
    );
    assert.equal(bad.details[0].field, "deviceId");
    await expectError(
      await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: ENROLL, admin: true }, {}),
      422,
      "validation_failed",
    );
    await expectError(await h.send("POST", "/api/v1/enroll", "{oops", {}), 400, "malformed_json");
    await expectError(
      await h.request("/api/v1/enroll", { method: "POST", body: "{}" }),
      415,
      "unsupported_media_type",
    );
  });
});

Deno.test("enrollment against an external broker without provisioning answers 503", async () => {
  await withApp(async (h) => {
    const error = await expectError(
      await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: ENROLL }, {}),
      503,
      "provisioning_unavailable",
    );
    assert.match(error.message, /Mosquitto provisioning not configured/);
    assert.equal(await h.store.deviceExists("pi-1"), false);
  }, { provisioner: unconfiguredProvisioner() });
});

Deno.test("provisioning failures map to their HTTP status: taken 409, disabled 403, unsupported id 422", async () => {
  for (
    const [code, status] of [
      ["device_id_taken", 409],
      ["device_disabled", 403],
      ["device_id_unsupported", 422],
    ] as const
  ) {
    await withApp(async (h) => {
      await expectError(
        await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: ENROLL }, {}),
        status,
        code,
      );
      assert.equal(await h.store.deviceExists("pi-1"), false);
    }, {
      provisioner: {
        provision: () => Promise.reject(new ProvisioningError(code, "refused")),
        endSessions: () => Promise.resolve(),
        revoke: () => Promise.resolve(),
      },
    });
  }
});

Deno.test("every admin endpoint answers 401 without the admin token or with a wrong one", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    const routes: [string, string][] = [
      ["GET", "/api/v1/devices"],
      ["GET", "/api/v1/devices/pi-1"],
      ["PUT", "/api/v1/devices/pi-1/desired"],
      ["POST", "/api/v1/devices/pi-1/commands"],
      ["GET", "/api/v1/devices/pi-1/commands"],
      ["GET", "/api/v1/devices/pi-1/commands/abc"],
      ["GET", "/api/v1/readings"],
      ["GET", "/api/v1/events"],
    ];
    for (const [method, path] of routes) {
      const body = method === "GET" ? undefined : "{}";
      const headers = { "content-type": "application/json" };
      await expectError(await h.request(path, { method, body, headers }), 401, "unauthorized");
      const wrong = await h.request(path, {
        method,
        body,
        headers: { ...headers, authorization: `Bearer ${ENROLL}` },
      });
      await expectError(wrong, 401, "unauthorized");
    }
  });
});

Deno.test("the fleet list shows presence, position and lag; one device adds stats and config", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-2");
    await enroll(h, "pi-1", { version: "1.0.0" });
    await h.store.commitBatch("pi-1", readingBatch(1, 5));
    await h.store.commitBatch("pi-1", readingBatch(8, 9));
    await h.store.applyStatus("pi-1", { online: true, lastSeq: 12 });
    const list = await (await h.get("/api/v1/devices")).json();
    assert.deepEqual(list.items.map((d: { id: string }) => d.id), ["pi-1", "pi-2"]);
    const one = list.items[0];
    assert.deepEqual({ ...one, lastSeen: typeof one.lastSeen }, {
      id: "pi-1",
      online: true,
      lastSeen: "string",
      ackedSeq: 5,
      lastSeq: 12,
      lag: 7,
      version: "1.0.0",
      arch: null,
      labels: {},
      status: "active",
      statusChangedAt: one.statusChangedAt,
    });
    assert.equal(list.items[1].lastSeen, null);
    const detail = await (await h.get("/api/v1/devices/pi-1")).json();
    assert.deepEqual(detail.stats, { readings: 7, events: 0 });
    assert.deepEqual(
      [detail.desired, detail.desiredVersion, detail.appliedVersion],
      [{}, 0, 0],
    );
    await expectError(await h.get("/api/v1/devices/ghost"), 404, "not_found");
    await expectError(await h.get("/api/v1/devices/bad%20id"), 404, "not_found");
  });
});

Deno.test("readings are filtered by device, sensor and time, aggregated, and bad queries get 422", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    await enroll(h, "pi-2");
    await h.store.commitBatch("pi-1", readingBatch(1, 10));
    await h.store.commitBatch("pi-2", readingBatch(1, 4));
    const all = (await (await h.get("/api/v1/readings?limit=100")).json()).items;
    assert.equal(all.length, 14);
    const mine = (await (await h.get("/api/v1/readings?device=pi-2&sensor=temp")).json()).items;
    assert.deepEqual(mine.map((r: { seq: number }) => r.seq), [4, 3, 2, 1]);
    assert.deepEqual(Object.keys(mine[0]).sort(), [
      "device",
      "receivedAt",
      "sensor",
      "seq",
      "ts",
      "unit",
      "value",
    ]);
    const window = (await (await h.get(
      "/api/v1/readings?device=pi-1&from=2026-11-26T10:00:02Z&to=2026-11-26T10:00:05Z",
    )).json()).items;
    assert.deepEqual(window.map((r: { seq: number }) => r.seq), [4, 3, 2]);
    const buckets = (await (await h.get("/api/v1/readings?bucket=1h")).json()).items;
    assert.deepEqual(
      buckets.map((
        b: { device: string; count: number; max: number },
      ) => [b.device, b.count, b.max]),
      [["pi-1", 10, 10], ["pi-2", 4, 4]],
    );
    for (const bad of ["limit=0", "limit=x", "from=yesterday", "bucket=5x", "device=a/b"]) {
      const error = await expectError(
        await h.get(`/api/v1/readings?${bad}`),
        422,
        "validation_failed",
      );
      assert.equal(error.details[0].field, bad.split("=")[0]);
    }
  });
});

Deno.test("events are listed per device and bad queries get 422", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    await h.store.commitBatch("pi-1", {
      from: 1,
      to: 1,
      records: [{
        seq: 1,
        type: "event",
        id: "e-1",
        kind: "door",
        severity: "critical",
        message: "Door forced",
        ts: "2026-11-26T10:00:00Z",
      }],
    });
    const items = (await (await h.get("/api/v1/events?device=pi-1")).json()).items;
    assert.equal(items.length, 1);
    assert.equal(items[0].device, "pi-1");
    assert.equal(items[0].message, "Door forced");
    assert.deepEqual((await (await h.get("/api/v1/events?device=pi-9")).json()).items, []);
    await expectError(await h.get("/api/v1/events?limit=5000"), 422, "validation_failed");
    await expectError(await h.get("/api/v1/events?severity=fatal"), 422, "validation_failed");
  });
});

Deno.test("PUT desired bumps the version and publishes it retained; unknown devices get 404", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    const first = await h.send("PUT", "/api/v1/devices/pi-1/desired", { interval: 5 });
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { version: 1 });
    const second = await h.send("PUT", "/api/v1/devices/pi-1/desired", { interval: 10 });
    assert.deepEqual(await second.json(), { version: 2 });
    assert.deepEqual(h.link.published.map((p) => [p.topic, p.payload, p.options]), [
      [topics.desired("pi-1"), { version: 1, desired: { interval: 5 } }, { qos: 1, retain: true }],
      [topics.desired("pi-1"), { version: 2, desired: { interval: 10 } }, { qos: 1, retain: true }],
    ]);
    const device = await (await h.get("/api/v1/devices/pi-1")).json();
    assert.deepEqual([device.desired, device.desiredVersion], [{ interval: 10 }, 2]);
    await expectError(await h.send("PUT", "/api/v1/devices/ghost/desired", {}), 404, "not_found");
    await expectError(
      await h.send("PUT", "/api/v1/devices/pi-1/desired", [1, 2]),
      422,
      "validation_failed",
    );
    await expectError(
      await h.send("PUT", "/api/v1/devices/pi-1/desired", "{"),
      400,
      "malformed_json",
    );
  });
});

Deno.test("desired state and command args nested deeper than 32 levels are 422 and not stored", async () => {
  // Regression (chaos fuzzer): desired state nested thousands deep was stored and sent to the
  // device, whose settings page then failed with a 500 (stack overflow) until it was replaced.
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    const deep = `{"a":`.repeat(3000) + "1" + "}".repeat(3000);
    await expectError(
      await h.send("PUT", "/api/v1/devices/pi-1/desired", `{"x":${deep}}`),
      422,
      "validation_failed",
    );
    await expectError(
      await h.send("POST", "/api/v1/devices/pi-1/commands", `{"name":"ping","args":{"x":${deep}}}`),
      422,
      "validation_failed",
    );
    assert.equal(h.link.published.length, 0);
    assert.equal((await h.store.downlinkState("pi-1"))?.desiredVersion, 0);
    const ok = `{"a":`.repeat(31) + "1" + "}".repeat(31);
    assert.equal((await h.send("PUT", "/api/v1/devices/pi-1/desired", ok)).status, 200);
  });
});

Deno.test("PUT desired is stored even when the broker cannot take it now", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    h.link.fail = true;
    const response = await h.send("PUT", "/api/v1/devices/pi-1/desired", { interval: 5 });
    assert.deepEqual(await response.json(), { version: 1 });
    assert.equal((await h.store.downlinkState("pi-1"))?.desiredVersion, 1);
  });
});

Deno.test("a command to an offline device stays queued; to an online one it is published and delivered", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    const created = await h.send("POST", "/api/v1/devices/pi-1/commands", { name: "ping" });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    assert.equal(created.headers.get("location"), `/api/v1/devices/pi-1/commands/${id}`);
    assert.equal(h.link.published.length, 0, "nothing is published to an offline device");
    let command = await (await h.get(`/api/v1/devices/pi-1/commands/${id}`)).json();
    assert.equal(command.status, "queued");
    assert.equal(command.name, "ping");

    await h.store.applyStatus("pi-1", { online: true });
    const online = await h.send("POST", "/api/v1/devices/pi-1/commands", {
      name: "set-log-level",
      args: { level: "debug" },
    });
    const second = (await online.json()).id;
    assert.deepEqual(h.link.published.map((p) => [p.topic, p.payload, p.options]), [
      [
        topics.command("pi-1"),
        { id: second, name: "set-log-level", args: { level: "debug" } },
        { qos: 1, retain: false },
      ],
    ]);
    command = await (await h.get(`/api/v1/devices/pi-1/commands/${second}`)).json();
    assert.equal(command.status, "delivered");
    assert.deepEqual(command.args, { level: "debug" });
    assert.ok(command.createdAt && command.updatedAt);
    const list = (await (await h.get("/api/v1/devices/pi-1/commands")).json()).items;
    assert.equal(list.length, 2);
  });
});

Deno.test("command routes answer 404 for unknown devices and commands and 422 for bad bodies", async () => {
  await withApp(async (h) => {
    await enroll(h, "pi-1");
    await expectError(
      await h.send("POST", "/api/v1/devices/ghost/commands", { name: "ping" }),
      404,
      "not_found",
    );
    await expectError(
      await h.get(`/api/v1/devices/pi-1/commands/${crypto.randomUUID()}`),
      404,
      "not_found",
    );
    await expectError(await h.get("/api/v1/devices/pi-1/commands/..%2Fx"), 404, "not_found");
    await expectError(await h.get("/api/v1/devices/ghost/commands"), 404, "not_found");
    for (
      const body of [{}, { name: "" }, { name: "a b" }, { name: "ping", args: [1] }, {
        name: "ping",
        extra: 1,
      }]
    ) {
      await expectError(
        await h.send("POST", "/api/v1/devices/pi-1/commands", body),
        422,
        "validation_failed",
      );
    }
  });
});

Deno.test("health, readiness, metrics and the OpenAPI document are served without a token", async () => {
  await withApp(async (h) => {
    assert.equal((await (await h.request("/healthz")).json()).status, "ok");
    assert.equal((await (await h.request("/readyz")).json()).status, "ready");
    await enroll(h, "pi-1");
    await h.store.applyStatus("pi-1", { online: true });
    await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: "nope-nope" }, {});
    const metrics = await (await h.request("/metrics")).text();
    assert.match(
      metrics,
      /http_requests_total\{method="POST",route="\/api\/v1\/enroll",status="200"\} 1/,
    );
    assert.match(metrics, /outpost_enrollments_total\{result="bad_token"\} 1/);
    assert.match(metrics, /outpost_devices_online 1/);
    assert.match(metrics, /process_resident_memory_bytes \d+/);
    const doc = await (await h.request("/api/openapi.json")).json();
    assert.equal(doc.openapi, "3.1.0");
    for (
      const path of [
        "/api/v1/enroll",
        "/api/v1/devices",
        "/api/v1/devices/{id}",
        "/api/v1/devices/{id}/desired",
        "/api/v1/devices/{id}/commands",
        "/api/v1/devices/{id}/commands/{cid}",
        "/api/v1/readings",
        "/api/v1/events",
        "/healthz",
        "/readyz",
        "/metrics",
      ]
    ) {
      assert.ok(doc.paths[path], `OpenAPI document lacks ${path}`);
    }
    assert.equal(doc.paths["/api/v1/enroll"].post.security, undefined);
    assert.deepEqual(doc.paths["/api/v1/devices"].get.security, [{ bearer: [] }]);
  });
});

Deno.test("readyz and the API answer 503 until migrations are done", async () => {
  let ready = false;
  await withApp(async (h) => {
    await expectError(await h.request("/readyz"), 503, "not_ready");
    await expectError(await h.get("/api/v1/devices"), 503, "not_ready");
    await expectError(
      await h.send("POST", "/api/v1/enroll", { deviceId: "pi-1", token: ENROLL }, {}),
      503,
      "not_ready",
    );
    assert.equal((await h.request("/healthz")).status, 200);
    ready = true;
    assert.equal((await h.request("/readyz")).status, 200);
  }, { isReady: () => ready });
});

Deno.test("unknown routes get 404 in the envelope and a UI can be mounted at /", async () => {
  const { Hono } = await import("hono");
  const ui = new Hono();
  ui.get("/", (c) => c.html("<h1>Fleet</h1>"));
  await withApp(async (h) => {
    await expectError(await h.get("/api/v1/nope"), 404, "not_found");
    await expectError(await h.request("/nope"), 404, "not_found");
    assert.equal(await (await h.request("/")).text(), "<h1>Fleet</h1>");
  }, { ui });
});
