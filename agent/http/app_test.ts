import assert from "node:assert/strict";
import { type AgentAppOptions, createAgentApp } from "./app.ts";
import { openAgentStore } from "../store/open.ts";
import { createLogger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";

interface Harness {
  request: (path: string, init?: RequestInit) => Promise<Response>;
  json: (path: string, body: unknown, init?: RequestInit) => Promise<Response>;
  logs: string[];
}

async function withApp(
  fn: (h: Harness) => Promise<void>,
  extra: Partial<AgentAppOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-app-" });
  const { store, handle } = await openAgentStore(dir);
  const logs: string[] = [];
  const app = createAgentApp({
    store,
    logger: createLogger({ write: (line) => logs.push(line) }),
    metrics: new MetricsRegistry(),
    version: "test",
    deviceId: "dev-test",
    ...extra,
  });
  const request = async (path: string, init?: RequestInit) =>
    await app.request(`http://agent${path}`, init);
  const json = (path: string, body: unknown, init: RequestInit = {}) =>
    request(path, {
      method: "POST",
      ...init,
      headers: { "content-type": "application/json", ...init.headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  try {
    await fn({ request, json, logs });
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function expectError(response: Response, status: number, code: string) {
  assert.equal(response.status, status, await response.clone().text());
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = await response.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  return body.error;
}

Deno.test("POST /api/v1/readings stores one reading and answers 201 with the last seq", async () => {
  await withApp(async ({ json, request }) => {
    const response = await json("/api/v1/readings", {
      sensor: "temp",
      value: 21.5,
      unit: "C",
      ts: "2026-11-26T10:00:00Z",
    });
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), { accepted: 1, lastSeq: 1 });
    const list = await (await request("/api/v1/readings")).json();
    assert.deepEqual(list.items, [
      { seq: 1, sensor: "temp", value: 21.5, unit: "C", ts: "2026-11-26T10:00:00.000Z" },
    ]);
  });
});

Deno.test("POST /api/v1/readings takes an array of 10,000 and stamps missing ts with now", async () => {
  await withApp(async ({ json, request }) => {
    const batch = Array.from({ length: 10_000 }, (_, i) => ({ sensor: `s${i % 3}`, value: i }));
    const before = Date.now();
    const response = await json("/api/v1/readings", batch);
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), { accepted: 10_000, lastSeq: 10_000 });
    const newest = (await (await request("/api/v1/readings?limit=1")).json()).items[0];
    assert.ok(Date.parse(newest.ts) >= before - 1000);
    const sync = await (await request("/api/v1/sync")).json();
    assert.equal(sync.pending, 10_000);
  });
});

Deno.test("POST /api/v1/readings rejects 10,001 readings, an empty array and bad fields with 422", async () => {
  await withApp(async ({ json, request }) => {
    const tooMany = Array.from({ length: 10_001 }, () => ({ sensor: "s", value: 1 }));
    await expectError(await json("/api/v1/readings", tooMany), 422, "validation_failed");
    await expectError(await json("/api/v1/readings", []), 422, "validation_failed");
    const error = await expectError(
      await json("/api/v1/readings", [{ sensor: "ok", value: 1 }, {
        sensor: "",
        value: "x",
        ts: "yesterday",
      }]),
      422,
      "validation_failed",
    );
    const fields = error.details.map((d: { field: string }) => d.field);
    assert.ok(fields.includes("1.sensor") || fields.includes("(body)"), JSON.stringify(fields));
    const single = await expectError(
      await json("/api/v1/readings", { sensor: "t", value: 1, extra: true }),
      422,
      "validation_failed",
    );
    assert.ok(single.details.length >= 1);
    // Nothing from rejected requests was stored.
    assert.deepEqual((await (await request("/api/v1/readings")).json()).items, []);
  });
});

Deno.test("malformed JSON is 400, a wrong content type 415 and an oversized body 413", async () => {
  await withApp(async ({ json }) => {
    await expectError(await json("/api/v1/readings", "{not json"), 400, "malformed_json");
    await expectError(
      await json("/api/v1/readings", "{}", { headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      await json("/api/v1/readings", JSON.stringify({ sensor: "x".repeat(2000), value: 1 })),
      413,
      "payload_too_large",
    );
  }, { maxBodyBytes: 1024 });
});

Deno.test("GET /api/v1/readings filters, limits, aggregates and rejects bad query values", async () => {
  await withApp(async ({ json, request }) => {
    const base = Date.parse("2026-11-26T10:00:00Z");
    const batch = [];
    for (let i = 0; i < 120; i++) {
      batch.push({
        sensor: i % 2 ? "a" : "b",
        value: i,
        ts: new Date(base + i * 1000).toISOString(),
      });
    }
    assert.equal((await json("/api/v1/readings", batch)).status, 201);
    const a = (await (await request("/api/v1/readings?sensor=a&limit=5")).json()).items;
    assert.deepEqual(a.map((r: { value: number }) => r.value), [119, 117, 115, 113, 111]);
    const window = (await (await request(
      "/api/v1/readings?from=2026-11-26T10:00:10Z&to=2026-11-26T10:00:13Z",
    )).json()).items;
    assert.deepEqual(window.map((r: { value: number }) => r.value), [12, 11, 10]);
    const buckets = (await (await request("/api/v1/readings?sensor=b&bucket=1m")).json()).items;
    assert.deepEqual(buckets.map((b: { count: number }) => b.count), [30, 30]);
    assert.deepEqual(buckets[0], {
      sensor: "b",
      bucket: "2026-11-26T10:00:00.000Z",
      min: 0,
      max: 58,
      avg: 29,
      count: 30,
    });
    for (const bad of ["limit=0", "limit=abc", "limit=10001", "from=yesterday", "bucket=5x"]) {
      const error = await expectError(
        await request(`/api/v1/readings?${bad}`),
        422,
        "validation_failed",
      );
      assert.equal(error.details[0].field, bad.split("=")[0]);
    }
  });
});

Deno.test("events are created, listed newest first, read by id, and 404 for unknown ids", async () => {
  await withApp(async ({ json, request }) => {
    const created = await json("/api/v1/events", {
      kind: "door",
      severity: "warning",
      message: "Door opened",
      data: { door: 2 },
    });
    assert.equal(created.status, 201);
    const { id, seq } = await created.json();
    assert.equal(created.headers.get("location"), `/api/v1/events/${id}`);
    assert.equal(seq, 1);
    await json("/api/v1/events", { kind: "boot", severity: "info", message: "Booted" });
    const list = (await (await request("/api/v1/events")).json()).items;
    assert.deepEqual(list.map((e: { kind: string }) => e.kind), ["boot", "door"]);
    const warnings = (await (await request("/api/v1/events?severity=warning")).json()).items;
    assert.equal(warnings.length, 1);
    const one = await (await request(`/api/v1/events/${id}`)).json();
    assert.equal(one.message, "Door opened");
    assert.deepEqual(one.data, { door: 2 });
    await expectError(await request(`/api/v1/events/${crypto.randomUUID()}`), 404, "not_found");
    await expectError(await request("/api/v1/events/..%2F..%2Fetc%2Fpasswd"), 404, "not_found");
    await expectError(
      await json("/api/v1/events", { kind: "x", severity: "fatal", message: "" }),
      422,
      "validation_failed",
    );
  });
});

Deno.test("event data nested too deep or too large is 422 and stores nothing", async () => {
  // Regression (chaos fuzzer): data nested 20,000 deep overflowed the stack when stored (500),
  // and data of several MB was accepted though no MQTT message could ever carry it.
  await withApp(async ({ json, request }) => {
    const deep = `{"a":`.repeat(20_000) + "1" + "}".repeat(20_000);
    const body = (data: string) => `{"kind":"k","severity":"info","message":"m","data":${data}}`;
    for (const data of [`{"x":${deep}}`, JSON.stringify({ big: "x".repeat(70_000) })]) {
      const response = await json("/api/v1/events", body(data));
      const error = await expectError(response, 422, "validation_failed");
      assert.deepEqual(error.details.map((d: { field: string }) => d.field), ["data"]);
    }
    const nested32 = `{"a":`.repeat(31) + "1" + "}".repeat(31);
    assert.equal((await json("/api/v1/events", body(nested32))).status, 201);
    assert.equal((await (await request("/api/v1/events")).json()).items.length, 1);
  });
});

Deno.test("sync status says unenrolled with no cloud and counts pending outbox records", async () => {
  await withApp(async ({ json, request }) => {
    await json("/api/v1/readings", [{ sensor: "t", value: 1 }, { sensor: "t", value: 2 }]);
    await json("/api/v1/events", { kind: "k", severity: "info", message: "m" });
    assert.deepEqual(await (await request("/api/v1/sync")).json(), {
      state: "unenrolled",
      pending: 3,
      lastSeq: 3,
      ackedSeq: 0,
      lastAckAt: null,
      lastError: null,
      problem: null,
      since: null,
      nextAttemptAt: null,
      brokerUrl: null,
    });
    assert.deepEqual(await (await request("/api/v1/config")).json(), {
      desired: {},
      desiredVersion: 0,
      appliedVersion: 0,
    });
  });
});

Deno.test("unknown routes get 404 in the envelope", async () => {
  await withApp(async ({ request }) => {
    await expectError(await request("/api/v1/nope"), 404, "not_found");
    await expectError(await request("/nope"), 404, "not_found");
  });
});

Deno.test("health, readiness, metrics and the OpenAPI document are served", async () => {
  await withApp(async ({ json, request }) => {
    assert.equal((await (await request("/healthz")).json()).status, "ok");
    assert.equal((await (await request("/readyz")).json()).status, "ready");
    await json("/api/v1/readings", [{ sensor: "t", value: 1 }, { sensor: "t", value: 2 }]);
    await json("/api/v1/readings", "{bad");
    const metrics = await (await request("/metrics")).text();
    assert.match(
      metrics,
      /http_requests_total\{method="POST",route="\/api\/v1\/readings",status="201"\} 1/,
    );
    assert.match(
      metrics,
      /http_requests_total\{method="POST",route="\/api\/v1\/readings",status="400"\} 1/,
    );
    assert.match(
      metrics,
      /http_request_duration_seconds_bucket\{method="POST",route="\/api\/v1\/readings",le="\+Inf"\} 2/,
    );
    assert.match(metrics, /outpost_readings_written_total 2/);
    assert.match(metrics, /outpost_outbox_pending 2/);
    assert.match(metrics, /process_resident_memory_bytes \d+/);
    const doc = await (await request("/api/openapi.json")).json();
    assert.equal(doc.openapi, "3.1.0");
    for (
      const path of [
        "/api/v1/readings",
        "/api/v1/events",
        "/api/v1/events/{id}",
        "/api/v1/sync",
        "/api/v1/config",
        "/healthz",
        "/readyz",
        "/metrics",
      ]
    ) {
      assert.ok(doc.paths[path], `OpenAPI document lacks ${path}`);
    }
    assert.ok(doc.paths["/api/v1/readings"].post.requestBody);
  });
});

Deno.test("readyz and the API answer 503 until migrations are done", async () => {
  let ready = false;
  await withApp(async ({ request }) => {
    await expectError(await request("/readyz"), 503, "not_ready");
    await expectError(await request("/api/v1/readings"), 503, "not_ready");
    assert.equal((await request("/healthz")).status, 200);
    ready = true;
    assert.equal((await request("/readyz")).status, 200);
  }, { isReady: () => ready });
});

Deno.test("with an API token, mutations need the bearer token and reads do not", async () => {
  await withApp(async ({ json, request }) => {
    await expectError(
      await json("/api/v1/readings", { sensor: "t", value: 1 }),
      401,
      "unauthorized",
    );
    await expectError(
      await json("/api/v1/events", { kind: "k", severity: "info", message: "m" }, {
        headers: { authorization: "Bearer wrong-token" },
      }),
      401,
      "unauthorized",
    );
    const ok = await json("/api/v1/readings", { sensor: "t", value: 1 }, {
      headers: { authorization: "Bearer right-token" },
    });
    assert.equal(ok.status, 201);
    assert.equal((await request("/api/v1/readings")).status, 200);
  }, { apiToken: "right-token" });
});

Deno.test("a full disk answers 507 with a clear message and keeps stored rows", async () => {
  const dir = await Deno.makeTempDir();
  const { store, handle } = await openAgentStore(dir);
  const logs: string[] = [];
  const app = createAgentApp({
    store,
    logger: createLogger({ write: (line) => logs.push(line) }),
    metrics: new MetricsRegistry(),
    version: "test",
    deviceId: "d",
  });
  try {
    const post = (body: unknown) =>
      app.request("http://agent/api/v1/readings", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    assert.equal((await post({ sensor: "kept", value: 1 })).status, 201);
    const pages = handle.raw.prepare("PRAGMA page_count").get() as { page_count: number };
    handle.raw.exec(`PRAGMA max_page_count = ${pages.page_count}`);
    const full = await post(Array.from({ length: 5000 }, (_, i) => ({ sensor: "x", value: i })));
    const error = await expectError(full, 507, "disk_full");
    assert.match(error.message, /disk is full/);
    const items = (await (await app.request("http://agent/api/v1/readings")).json()).items;
    assert.deepEqual(items.map((r: { sensor: string }) => r.sensor), ["kept"]);
    assert.ok(logs.some((line) => line.includes("SQLITE_FULL")));
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("repeated reading queries are served from cache until the next write changes them", async () => {
  await withApp(async ({ json, request }) => {
    await json("/api/v1/readings", { sensor: "t", value: 1 });
    const first = await (await request("/api/v1/readings?sensor=t")).json();
    const again = await (await request("/api/v1/readings?sensor=t")).json();
    assert.deepEqual(again, first);
    await json("/api/v1/readings", { sensor: "t", value: 2 });
    const after = await (await request("/api/v1/readings?sensor=t")).json();
    assert.deepEqual(after.items.map((r: { value: number }) => r.value), [2, 1]);
  });
});
