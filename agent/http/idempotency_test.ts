/**
 * `Idempotency-Key` on the agent's POSTs: a retried write returns the first result and stores
 * nothing twice; the key is recorded in the write's own transaction.
 */
import assert from "node:assert/strict";
import { createAgentApp } from "./app.ts";
import { openAgentStore } from "../store/open.ts";
import type { AgentStore } from "../store/store.ts";
import { createLogger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { IDEMPOTENCY_TTL_MS } from "@outpost/platform/idempotency";

async function withApp(
  fn: (
    post: (path: string, body: unknown, key?: string) => Promise<Response>,
    store: AgentStore,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-idem-" });
  const { store, handle } = await openAgentStore(dir);
  const app = createAgentApp({
    store,
    logger: createLogger({ write: () => {} }),
    metrics: new MetricsRegistry(),
    version: "test",
    deviceId: "dev-test",
  });
  const post = async (path: string, body: unknown, key?: string) =>
    await app.request(`http://agent${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key === undefined ? {} : { "idempotency-key": key }),
      },
      body: JSON.stringify(body),
    });
  try {
    await fn(post, store);
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a retried readings POST with the same key returns the first result and stores nothing twice", async () => {
  await withApp(async (post, store) => {
    const body = [{ sensor: "t", value: 1 }, { sensor: "t", value: 2 }];
    const first = await post("/api/v1/readings", body, "retry-1");
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const firstBody = await first.json();
    const again = await post("/api/v1/readings", body, "retry-1");
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);
    assert.equal((await store.outboxStats()).lastSeq, 2, "stored once");
    // Without a key, the same body is a new write.
    await post("/api/v1/readings", body);
    assert.equal((await store.outboxStats()).lastSeq, 4);
  });
});

Deno.test("a key reused with another body is 422 and stores nothing", async () => {
  await withApp(async (post, store) => {
    await post("/api/v1/readings", { sensor: "t", value: 1 }, "k");
    const reused = await post("/api/v1/readings", { sensor: "t", value: 99 }, "k");
    assert.equal(reused.status, 422);
    const error = (await reused.json()).error;
    assert.equal(error.code, "idempotency_key_reused");
    assert.equal(error.details[0].field, "Idempotency-Key");
    assert.equal((await store.outboxStats()).lastSeq, 1);
  });
});

Deno.test("events keep their first answer per key, apart from readings' keys", async () => {
  await withApp(async (post, store) => {
    const event = { kind: "door", severity: "info", message: "open" };
    const first = await (await post("/api/v1/events", event, "same")).json();
    const again = await post("/api/v1/events", event, "same");
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), first);
    assert.equal((await store.listEvents({ limit: 10 })).length, 1);
    // The same key on another route is another key.
    assert.equal((await post("/api/v1/readings", { sensor: "t", value: 1 }, "same")).status, 201);
    assert.equal((await store.outboxStats()).lastSeq, 2);
  });
});

Deno.test("a malformed key is 400; a failed write keeps no key", async () => {
  await withApp(async (post, store) => {
    const bad = await post("/api/v1/readings", { sensor: "t", value: 1 }, "has space");
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "bad_idempotency_key");
    const invalid = await post("/api/v1/readings", { sensor: "t" }, "k2");
    assert.equal(invalid.status, 422);
    const fixed = await post("/api/v1/readings", { sensor: "t", value: 1 }, "k2");
    assert.equal(fixed.status, 201, "the key of a refused request is free");
    assert.equal((await store.outboxStats()).lastSeq, 1);
  });
});

Deno.test("keys expire after 24 hours and are pruned", async () => {
  await withApp(async (_post, store) => {
    const request = { scope: "POST /api/v1/readings", key: "old", fingerprint: "f" };
    const long = Date.now() - IDEMPOTENCY_TTL_MS - 1000;
    const reading = { sensor: "t", value: 1, unit: "", ts: long };
    await store.insertReadings([reading], { now: long, idempotency: request });
    // Expired: the same key writes again.
    const again = await store.insertReadings([reading], { idempotency: request });
    assert.equal(again.replayed, undefined);
    assert.equal((await store.outboxStats()).lastSeq, 2);
    await store.insertReadings([reading], {
      now: long,
      idempotency: { ...request, key: "older" },
    });
    assert.equal(await store.pruneIdempotencyKeys(), 1);
  });
});
