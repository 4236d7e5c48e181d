/**
 * Exact input errors of the agent API (issue 15): every 422 names each bad field, the rule it
 * broke and the limit; control characters, implausible times and values are refused, not
 * stored; compressed bodies get 415; events take `ts`.
 */
import assert from "node:assert/strict";
import { type AgentAppOptions, createAgentApp } from "./app.ts";
import { openAgentStore } from "../store/open.ts";
import type { AgentStore } from "../store/store.ts";
import { createLogger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";

interface Harness {
  store: AgentStore;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;
}

async function withApp(
  fn: (h: Harness) => Promise<void>,
  extra: Partial<AgentAppOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-input-" });
  const { store, handle } = await openAgentStore(dir);
  const app = createAgentApp({
    store,
    logger: createLogger({ write: () => {} }),
    metrics: new MetricsRegistry(),
    version: "test",
    deviceId: "dev-test",
    ...extra,
  });
  const request = async (path: string, init?: RequestInit) =>
    await app.request(`http://agent${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  try {
    await fn({ store, request, post });
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

interface Detail {
  field: string;
  message: string;
  rule?: string;
  limit?: unknown;
}

/** The 422's details, after checking the envelope. */
async function details(response: Response): Promise<Detail[]> {
  assert.equal(response.status, 422, await response.clone().text());
  const body = await response.json();
  assert.equal(body.error.code, "validation_failed");
  return body.error.details;
}

async function nothingStored(h: Harness): Promise<void> {
  assert.deepEqual((await h.store.outboxStats()).lastSeq, 0, "nothing may be stored");
}

Deno.test("a reading without sensor names the missing field", async () => {
  await withApp(async (h) => {
    const [detail, ...rest] = await details(await h.post("/api/v1/readings", { value: 1 }));
    assert.deepEqual(rest, []);
    assert.deepEqual(detail, { field: "sensor", rule: "required", message: "is required" });
  });
});

Deno.test("a null or string value must be a finite number, and says what it got", async () => {
  await withApp(async (h) => {
    const [nullValue] = await details(
      await h.post("/api/v1/readings", { sensor: "t", value: null }),
    );
    assert.deepEqual(nullValue, {
      field: "value",
      rule: "type",
      limit: "number",
      message: "must be a finite number (got null)",
    });
    const [text] = await details(await h.post("/api/v1/readings", { sensor: "t", value: "21.5" }));
    assert.equal(text.message, "must be a finite number (got the string '21.5')");
    // 1e999 parses to Infinity: not a finite number either.
    const [infinite] = await details(
      await h.post("/api/v1/readings", '{"sensor":"t","value":1e999}'),
    );
    assert.equal(infinite.message, "must be a finite number (got Infinity)");
    await nothingStored(h);
  });
});

Deno.test("a value beyond 2^53-1 in magnitude is refused with the limit", async () => {
  await withApp(async (h) => {
    const [huge] = await details(
      await h.post("/api/v1/readings", { sensor: "t", value: 1.7976931348623157e308 }),
    );
    assert.equal(huge.field, "value");
    assert.equal(huge.rule, "maximum");
    assert.equal(huge.limit, Number.MAX_SAFE_INTEGER);
    assert.match(huge.message, /^must be at most 9,007,199,254,740,991/);
    const [low] = await details(await h.post("/api/v1/readings", { sensor: "t", value: -1e300 }));
    assert.equal(low.rule, "minimum");
    const ok = await h.post("/api/v1/readings", { sensor: "t", value: Number.MAX_SAFE_INTEGER });
    assert.equal(ok.status, 201);
  });
});

Deno.test("a numeric ts must be an ISO-8601 string", async () => {
  await withApp(async (h) => {
    const [detail] = await details(
      await h.post("/api/v1/readings", { sensor: "t", value: 1, ts: 1796389679 }),
    );
    assert.deepEqual(detail, {
      field: "ts",
      rule: "type",
      limit: "string",
      message:
        "must be an ISO-8601 date-time with a zone, e.g. 2026-11-26T10:00:00Z (got a number)",
    });
    const [noZone] = await details(
      await h.post("/api/v1/readings", { sensor: "t", value: 1, ts: "2026-11-26T10:00:00" }),
    );
    assert.equal(noZone.rule, "format");
    await nothingStored(h);
  });
});

Deno.test("10,001 readings name the 10,000 limit", async () => {
  await withApp(async (h) => {
    const body = Array.from({ length: 10_001 }, () => ({ sensor: "t", value: 1 }));
    const [detail] = await details(await h.post("/api/v1/readings", body));
    assert.deepEqual(detail, {
      field: "(body)",
      rule: "max_items",
      limit: 10_000,
      message: "must have at most 10,000 items (got 10,001)",
    });
    await nothingStored(h);
  });
});

Deno.test("every bad item of an array is named by its index and field", async () => {
  await withApp(async (h) => {
    const list = await details(
      await h.post("/api/v1/readings", [
        { sensor: "ok", value: 1 },
        { value: 2 },
        { sensor: "t", value: "x", extra: true },
      ]),
    );
    assert.deepEqual(list.map((d) => [d.field, d.rule]), [
      ["1.sensor", "required"],
      ["2.value", "type"],
      ["2.extra", "unknown_field"],
    ]);
    await nothingStored(h);
  });
});

Deno.test("NUL and other control characters are refused, not truncated", async () => {
  await withApp(async (h) => {
    const [unit] = await details(
      await h.post("/api/v1/readings", { sensor: "t", value: 1, unit: "a\u0000b" }),
    );
    assert.deepEqual(unit, {
      field: "unit",
      rule: "control_character",
      message: "must not contain control characters (U+0000 at position 1)",
    });
    const [bell] = await details(
      await h.post("/api/v1/events", { kind: "k", severity: "info", message: "ring\u0007" }),
    );
    assert.equal(bell.field, "message");
    assert.equal(bell.rule, "control_character");
    const [surrogate] = await details(
      await h.post("/api/v1/readings", '{"sensor":"t","value":1,"unit":"\\ud800"}'),
    );
    assert.match(surrogate.message, /lone surrogate/);
    // Line breaks in a message are text, not control.
    const multiline = await h.post("/api/v1/events", {
      kind: "k",
      severity: "info",
      message: "line 1\nline 2\ttabbed",
    });
    assert.equal(multiline.status, 201);
    const [event] = (await (await h.request("/api/v1/events")).json()).items;
    assert.equal(event.message, "line 1\nline 2\ttabbed");
    assert.equal((await h.store.outboxStats()).lastSeq, 1, "only the valid event is stored");
  });
});

Deno.test("timestamps outside 1970..2100 are refused whatever the window", async () => {
  await withApp(async (h) => {
    for (const ts of ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"]) {
      const [detail] = await details(
        await h.post("/api/v1/readings", { sensor: "t", value: 1, ts }),
      );
      assert.equal(detail.field, "ts");
      assert.equal(detail.rule, "time_window");
      assert.match(detail.message, /from 1970-01-01T00:00:00Z to before 2100-01-01T00:00:00Z/);
    }
    await nothingStored(h);
  }, { timeWindow: {} });
});

Deno.test("a ts outside the configured window around the device clock is refused, naming the setting", async () => {
  await withApp(async (h) => {
    const now = Date.now();
    const ahead = new Date(now + 2 * 86_400_000).toISOString();
    const old = new Date(now - 40 * 86_400_000).toISOString();
    const list = await details(
      await h.post("/api/v1/readings", [
        { sensor: "t", value: 1, ts: ahead },
        { sensor: "t", value: 2, ts: new Date(now).toISOString() },
        { sensor: "t", value: 3, ts: old },
      ]),
    );
    assert.deepEqual(list.map((d) => [d.field, d.rule]), [
      ["0.ts", "time_window"],
      ["2.ts", "time_window"],
    ]);
    assert.match(list[0].message, /at most 1 day after the device clock .*OUTPOST_TS_MAX_AHEAD/);
    assert.match(list[1].message, /at most 30 days before the device clock .*OUTPOST_TS_MAX_AGE/);
    const [event] = await details(
      await h.post("/api/v1/events", { kind: "k", severity: "info", message: "m", ts: ahead }),
    );
    assert.equal(event.rule, "time_window");
    await nothingStored(h);
  }, { timeWindow: { maxAgeMs: 30 * 86_400_000, maxAheadMs: 86_400_000 } });
});

Deno.test("a gzip-encoded body is 415, not a UTF-8 error", async () => {
  await withApp(async (h) => {
    const response = await h.post("/api/v1/readings", "\x1f\x8b\x08", {
      "content-encoding": "gzip",
    });
    assert.equal(response.status, 415);
    const body = await response.json();
    assert.equal(body.error.code, "unsupported_media_type");
    assert.match(body.error.message, /Content-Encoding 'gzip' is not supported/);
  });
});

Deno.test("an event takes an optional ts: when it happened, shown as ts beside createdAt", async () => {
  await withApp(async (h) => {
    const ts = new Date(Date.now() - 3_600_000).toISOString();
    const created = await h.post("/api/v1/events", {
      kind: "door.open",
      severity: "warning",
      message: "Door opened",
      ts,
    });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    const event = await (await h.request(`/api/v1/events/${id}`)).json();
    assert.equal(event.ts, ts);
    assert.ok(Date.parse(event.createdAt) > Date.parse(ts), "createdAt is when it was stored");
    const plain = await h.post("/api/v1/events", { kind: "k", severity: "info", message: "m" });
    const stored = await (await h.request(`/api/v1/events/${(await plain.json()).id}`)).json();
    assert.equal(stored.ts, stored.createdAt, "without ts it happened when stored");
    // The outbox record carries the event's own time to the cloud.
    const [row] = await h.store.readOutbox(0, 1);
    assert.equal(JSON.parse(row.payload).ts, ts);
  });
});
