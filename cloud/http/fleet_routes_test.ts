import assert from "node:assert/strict";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { topics } from "@outpost/protocol";
import { deviceTableProvisioner } from "../broker/credentials.ts";
import { Downlink } from "../broker/downlink.ts";
import { FleetDriver } from "../fleet/driver.ts";
import { FleetOperations } from "../fleet/operations.ts";
import type { CloudStore } from "../store/store.ts";
import { reportRecord } from "../testing/device_cases.ts";
import { collectingLogger, RecordingLink, withStore } from "../testing/fixtures.ts";
import { createCloudApp } from "./app.ts";

const ADMIN = "admin-token-for-tests";
const AUTH = { authorization: `Bearer ${ADMIN}` };

interface Harness {
  store: CloudStore;
  link: RecordingLink;
  step: () => Promise<void>;
  get: (path: string) => Promise<Response>;
  send: (method: string, path: string, body?: unknown) => Promise<Response>;
}

async function withApi(fn: (h: Harness) => Promise<void>): Promise<void> {
  await withStore(async (store) => {
    const link = new RecordingLink();
    const { logger } = collectingLogger();
    const fleet = new FleetOperations({
      store,
      downlink: new Downlink({ link, store, logger }),
      provisioner: deviceTableProvisioner(),
      logger,
    });
    const driver = new FleetDriver({ rollouts: fleet.rollouts, jobs: fleet.jobs, logger });
    const app = createCloudApp({
      store,
      fleet,
      provisioner: deviceTableProvisioner(),
      logger,
      metrics: new MetricsRegistry(),
      version: "test",
      adminToken: ADMIN,
      enrollToken: "enroll-token-for-tests",
      broker: { url: "mqtt://127.0.0.1:1883", protocolVersion: 4 },
    });
    const request = async (path: string, init?: RequestInit) =>
      await app.request(`http://cloud${path}`, init);
    await fn({
      store,
      link,
      step: () => driver.step(),
      get: (path) => request(path, { headers: AUTH }),
      send: (method, path, body) =>
        request(path, {
          method,
          headers: {
            ...AUTH,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
    });
  });
}

async function json<T = Record<string, unknown>>(response: Response, status = 200): Promise<T> {
  assert.equal(response.status, status, await response.clone().text());
  return await response.json() as T;
}

async function problem(response: Response, status: number, code: string) {
  const body = await json<{ error: { code: string; message: string; details?: unknown[] } }>(
    response,
    status,
  );
  assert.equal(body.error.code, code);
  return body.error;
}

async function seed(store: CloudStore, n: number, labels: (i: number) => Record<string, string>) {
  for (let i = 0; i < n; i++) {
    const id = `dev-${String(i).padStart(3, "0")}`;
    await store.enrollDevice({ id, passwordHash: null, labels: labels(i) });
    if (i % 3 !== 0) await store.applyStatus(id, { online: true });
  }
}

Deno.test("GET /api/v1/devices pages by cursor with counts, filtered by selector, prefix and state", async () => {
  await withApi(async (h) => {
    await seed(h.store, 25, (i) => ({ site: i % 2 ? "berlin" : "paris", n: String(i) }));
    const first = await json<{
      items: { id: string }[];
      nextCursor: string | null;
      counts: Record<string, number>;
    }>(await h.get("/api/v1/devices?limit=10&selector=site%3Dberlin"));
    assert.equal(first.items.length, 10);
    assert.deepEqual(first.counts, { total: 12, online: 8, offline: 4, lagging: 0 });
    assert.ok(first.nextCursor);
    const second = await json<{ items: { id: string }[]; nextCursor: string | null }>(
      await h.get(`/api/v1/devices?limit=10&selector=site%3Dberlin&cursor=${first.nextCursor}`),
    );
    assert.equal(second.items.length, 2);
    assert.equal(second.nextCursor, null);
    assert.deepEqual(
      [...first.items, ...second.items].map((d) => d.id),
      Array.from({ length: 12 }, (_, i) => `dev-${String(i * 2 + 1).padStart(3, "0")}`),
    );
    const offline = await json<{ items: { id: string }[] }>(
      await h.get("/api/v1/devices?state=offline&q=dev-00"),
    );
    assert.deepEqual(offline.items.map((d) => d.id), ["dev-000", "dev-003", "dev-006", "dev-009"]);
    const defaults = await json<{ items: unknown[] }>(await h.get("/api/v1/devices"));
    assert.equal(defaults.items.length, 25, "default limit 100");
  });
});

Deno.test("bad list parameters are 422 naming the parameter; a malformed selector says where", async () => {
  await withApi(async (h) => {
    const selector = await problem(
      await h.get(`/api/v1/devices?selector=${encodeURIComponent("site=berlin,")}`),
      422,
      "validation_failed",
    );
    assert.deepEqual(selector.details, [{
      field: "selector",
      rule: "selector",
      limit: 12,
      message: "expected a requirement after ',' at position 12, found the end",
    }]);
    for (
      const [query, field] of [
        ["limit=0", "limit"],
        ["limit=1001", "limit"],
        ["state=asleep", "state"],
        ["q=a%20b", "q"],
        ["cursor=not-a-cursor", "cursor"],
      ]
    ) {
      const error = await problem(
        await h.get(`/api/v1/devices?${query}`),
        422,
        "validation_failed",
      );
      assert.equal((error.details as { field: string }[])[0].field, field, query);
    }
  });
});

Deno.test("PUT /api/v1/devices/:id/labels replaces labels; a bad key or value is a 422 naming it", async () => {
  await withApi(async (h) => {
    await seed(h.store, 1, () => ({ site: "a" }));
    const body = await json(
      await h.send("PUT", "/api/v1/devices/dev-000/labels", { labels: { site: "b", tier: "" } }),
    );
    assert.deepEqual(body, { labels: { site: "b", tier: "" } });
    const device = await json<{ labels: unknown }>(await h.get("/api/v1/devices/dev-000"));
    assert.deepEqual(device.labels, { site: "b", tier: "" });
    const bad = await problem(
      await h.send("PUT", "/api/v1/devices/dev-000/labels", {
        labels: { "bad key": "x", ok: "-no" },
      }),
      422,
      "validation_failed",
    );
    assert.deepEqual(bad.details?.map((d) => (d as { field: string }).field), [
      "labels.bad key",
      "labels.ok",
    ]);
    assert.match(JSON.stringify(bad.details), /label value '-no' of 'ok' is invalid/);
    assert.deepEqual(bad.details?.map((d) => (d as { rule: string }).rule), [
      "label_key",
      "label_value",
    ]);
    await problem(
      await h.send("PUT", "/api/v1/devices/ghost/labels", { labels: {} }),
      404,
      "not_found",
    );
    await problem(
      await h.send("PUT", "/api/v1/devices/dev-000/labels", { site: "x" }),
      422,
      "validation_failed",
    );
  });
});

Deno.test("a rollout through the API: created with its targets, advanced, paused, aborted and rolled back", async () => {
  await withApi(async (h) => {
    await seed(h.store, 6, () => ({ role: "gw" }));
    const created = await json<{ id: string; targeted: number }>(
      await h.send("POST", "/api/v1/rollouts", {
        name: "debug logs",
        selector: "role=gw",
        desired: { logLevel: "debug" },
        waves: [{ percent: 50, bakeSeconds: 300 }, { percent: 100 }],
        failureThresholdPercent: 50,
        applyTimeoutSeconds: 900,
      }),
      201,
    );
    assert.equal(created.targeted, 6);
    await h.step();
    let rollout = await json<Record<string, unknown>>(
      await h.get(`/api/v1/rollouts/${created.id}`),
    );
    assert.equal(rollout.state, "running");
    assert.deepEqual(rollout.counts, {
      targeted: 6,
      pending: 4,
      applied: 0,
      failed: 0,
      offline: 2,
      cancelled: 0,
    });
    const waves = rollout.waves as Record<string, unknown>[];
    assert.deepEqual(waves.map((w) => [w.percent, w.bakeSeconds, w.state, w.size]), [
      [50, 300, "running", 3],
      [100, 0, "waiting", 3],
    ]);
    assert.ok(waves[0].startedAt);
    assert.equal(waves[1].completedAt, null);
    // dev-001 answers through the ingest as an agent would.
    await h.store.commitBatch("dev-001", {
      from: 1,
      to: 1,
      records: [reportRecord(1, 1, "applied")],
    });
    rollout = await json(await h.get(`/api/v1/rollouts/${created.id}`));
    assert.equal((rollout.counts as Record<string, number>).applied, 1);

    const paused = await json<{ state: string }>(
      await h.send("POST", `/api/v1/rollouts/${created.id}/pause`),
    );
    assert.equal(paused.state, "paused");
    assert.equal(
      (await json<{ state: string }>(await h.send("POST", `/api/v1/rollouts/${created.id}/resume`)))
        .state,
      "running",
    );
    const aborted = await json<{ state: string; reason: string }>(
      await h.send("POST", `/api/v1/rollouts/${created.id}/abort`),
    );
    assert.equal(aborted.state, "aborted");
    assert.equal(aborted.reason, "aborted by an operator");
    await problem(await h.send("POST", `/api/v1/rollouts/${created.id}/pause`), 409, "conflict");
    const rollback = await json<{ id: string; targeted: number }>(
      await h.send("POST", `/api/v1/rollouts/${created.id}/rollback`),
      201,
    );
    assert.equal(rollback.targeted, 1);
    await problem(await h.send("POST", `/api/v1/rollouts/${created.id}/rollback`), 409, "conflict");
    const list = await json<{ items: { id: string; kind: string }[]; nextCursor: string | null }>(
      await h.get("/api/v1/rollouts?limit=1"),
    );
    assert.equal(list.items.length, 1);
    assert.ok(list.nextCursor);
    const rest = await json<{ items: { id: string }[]; nextCursor: string | null }>(
      await h.get(`/api/v1/rollouts?limit=1&cursor=${list.nextCursor}`),
    );
    assert.deepEqual(
      new Set([list.items[0].id, rest.items[0].id]),
      new Set([created.id, rollback.id]),
    );
    assert.equal(rest.nextCursor, null);
    await problem(await h.get("/api/v1/rollouts/nope"), 404, "not_found");
    await problem(await h.send("POST", "/api/v1/rollouts/nope/abort"), 404, "not_found");
    await problem(await h.get("/api/v1/rollouts?cursor=zzz"), 422, "validation_failed");
  });
});

Deno.test("a rollout body is checked: waves increase to 100, the selector parses, the patch is an object", async () => {
  await withApi(async (h) => {
    const base = { name: "x", selector: "a=b", desired: { logLevel: "debug" } };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        { ...base, waves: [{ percent: 50 }, { percent: 40 }, { percent: 100 }] },
        "waves.1.percent",
        /increase/,
      ],
      [{ ...base, waves: [{ percent: 50 }] }, "waves.0.percent", /last wave must reach 100/],
      [{ ...base, waves: [{ percent: 0 }, { percent: 100 }] }, "waves.0.percent", /./],
      [{ ...base, selector: "a in (b" }, "selector", /expected ',' or '\)'/],
      [{ ...base, desired: [1] }, "desired", /./],
      [{ ...base, failureThresholdPercent: 101 }, "failureThresholdPercent", /./],
      [{ ...base, applyTimeoutSeconds: 1 }, "applyTimeoutSeconds", /./],
      [{ ...base, name: "" }, "name", /./],
      [{ ...base, extra: true }, "extra", /is not a known field/],
    ];
    for (const [body, field, message] of cases) {
      const error = await problem(
        await h.send("POST", "/api/v1/rollouts", body),
        422,
        "validation_failed",
      );
      const detail = (error.details as { field: string; message: string }[]).find((d) =>
        d.field === field
      );
      assert.ok(
        detail,
        `${JSON.stringify(body)}: no detail for ${field}: ${JSON.stringify(error.details)}`,
      );
      assert.match(detail.message, message);
    }
    const defaults = await json<{ id: string }>(
      await h.send("POST", "/api/v1/rollouts", base),
      201,
    );
    const rollout = await json<Record<string, unknown>>(
      await h.get(`/api/v1/rollouts/${defaults.id}`),
    );
    assert.equal(rollout.failureThresholdPercent, 5);
    assert.equal(rollout.applyTimeoutSeconds, 900);
    assert.equal((rollout.waves as unknown[]).length, 1);
    assert.equal(rollout.state, "succeeded", "no device matches a=b");
  });
});

Deno.test("a job through the API: created, released at its rate, listed, cancelled", async () => {
  await withApi(async (h) => {
    await seed(h.store, 4, () => ({ site: "x" }));
    const created = await json<{ id: string; targeted: number }>(
      await h.send("POST", "/api/v1/jobs", {
        selector: "site=x",
        command: { name: "set-log-level", args: { level: "debug" } },
        ratePerMinute: 1,
      }),
      201,
    );
    assert.equal(created.targeted, 4);
    await h.step();
    const job = await json<Record<string, unknown>>(await h.get(`/api/v1/jobs/${created.id}`));
    assert.equal(job.name, "set-log-level on site=x");
    assert.deepEqual(job.command, { name: "set-log-level", args: { level: "debug" } });
    assert.equal(job.state, "running");
    assert.deepEqual(job.counts, {
      targeted: 4,
      queued: 4,
      scheduled: 3,
      delivered: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
    }, "dev-000 is offline: its command is queued, not delivered");
    assert.deepEqual(h.link.on(topics.command("dev-000")), []);
    const list = await json<{ items: { id: string }[] }>(await h.get("/api/v1/jobs"));
    assert.deepEqual(list.items.map((j) => j.id), [created.id]);
    assert.deepEqual(await json(await h.send("POST", `/api/v1/jobs/${created.id}/cancel`)), {
      cancelled: 4,
    });
    await problem(await h.send("POST", `/api/v1/jobs/${created.id}/cancel`), 409, "conflict");
    await problem(await h.get("/api/v1/jobs/nope"), 404, "not_found");
    const bad = await problem(
      await h.send("POST", "/api/v1/jobs", { selector: "!", command: { name: "ping" } }),
      422,
      "validation_failed",
    );
    assert.equal((bad.details as { field: string }[])[0].field, "selector");
    await problem(
      await h.send("POST", "/api/v1/jobs", {
        selector: "",
        command: { name: "ping" },
        ratePerMinute: 0,
      }),
      422,
      "validation_failed",
    );
  });
});

Deno.test("the OpenAPI document covers every fleet endpoint", async () => {
  await withApi(async (h) => {
    const doc = await json<{ paths: Record<string, Record<string, { security?: unknown }>> }>(
      await h.get("/api/openapi.json"),
    );
    const expected: [string, string][] = [
      ["/api/v1/devices", "get"],
      ["/api/v1/devices/{id}/labels", "put"],
      ["/api/v1/rollouts", "post"],
      ["/api/v1/rollouts", "get"],
      ["/api/v1/rollouts/{id}", "get"],
      ["/api/v1/rollouts/{id}/pause", "post"],
      ["/api/v1/rollouts/{id}/resume", "post"],
      ["/api/v1/rollouts/{id}/abort", "post"],
      ["/api/v1/rollouts/{id}/rollback", "post"],
      ["/api/v1/jobs", "post"],
      ["/api/v1/jobs", "get"],
      ["/api/v1/jobs/{id}", "get"],
      ["/api/v1/jobs/{id}/cancel", "post"],
    ];
    for (const [path, method] of expected) {
      assert.ok(doc.paths[path]?.[method], `OpenAPI document lacks ${method} ${path}`);
      assert.deepEqual(doc.paths[path][method].security, [{ bearer: [] }], `${method} ${path}`);
    }
    const list = doc.paths["/api/v1/devices"].get as unknown as {
      parameters: { name: string }[];
    };
    assert.deepEqual(list.parameters.map((p) => p.name), [
      "limit",
      "cursor",
      "state",
      "selector",
      "q",
    ]);
  });
});
