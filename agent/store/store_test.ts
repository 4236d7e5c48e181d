import assert from "node:assert/strict";
import { sql } from "kysely";
import { openAgentStore } from "./open.ts";
import { pragmaValue } from "@outpost/platform/sqlite";
import { agentMigrations } from "./migrations/mod.ts";

async function withStore(
  fn: (opened: Awaited<ReturnType<typeof openAgentStore>>, dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-store-" });
  const opened = await openAgentStore(dir);
  try {
    await fn(opened, dir);
  } finally {
    await opened.handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const T0 = Date.parse("2026-11-01T00:00:00Z");

Deno.test("migrations run on an empty database and are not repeated on an existing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openAgentStore(dir);
    assert.deepEqual(first.applied, Object.keys(agentMigrations));
    await first.store.insertReadings([{ sensor: "t", value: 1, unit: "C", ts: T0 }]);
    await first.handle.close();
    const second = await openAgentStore(dir);
    assert.deepEqual(second.applied, []);
    assert.equal((await second.store.queryReadings({ limit: 10 })).length, 1);
    await second.handle.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the database runs in WAL mode with full fsync", async () => {
  await withStore(({ handle }) => {
    assert.equal(pragmaValue(handle.raw, "journal_mode"), "wal");
    assert.equal(pragmaValue(handle.raw, "synchronous"), 2);
    return Promise.resolve();
  });
});

Deno.test("readings get consecutive seqs and an outbox record each", async () => {
  await withStore(async ({ store }) => {
    const first = await store.insertReadings([
      { sensor: "temp", value: 21.5, unit: "C", ts: T0 },
      { sensor: "hum", value: 40, unit: "%", ts: T0 + 1000 },
    ]);
    assert.deepEqual(first, { accepted: 2, lastSeq: 2 });
    const event = await store.insertEvent({ kind: "door", severity: "info", message: "opened" });
    assert.equal(event.seq, 3);
    const outbox = await store.readOutbox(0, 10);
    assert.deepEqual(outbox.map((row) => row.seq), [1, 2, 3]);
    assert.deepEqual(JSON.parse(outbox[0].payload), {
      type: "reading",
      sensor: "temp",
      value: 21.5,
      unit: "C",
      ts: "2026-11-01T00:00:00.000Z",
    });
    assert.equal(JSON.parse(outbox[2].payload).id, event.id);
    assert.deepEqual(await store.outboxStats(), {
      lastSeq: 3,
      ackedSeq: 0,
      pending: 3,
      lastAckAt: null,
    });
  });
});

Deno.test("a failure mid-transaction leaves neither the rows nor their outbox records", async () => {
  await withStore(async ({ store, handle }) => {
    await store.insertReadings([{ sensor: "ok", value: 1, unit: "", ts: T0 }]);
    // The outbox insert succeeds, then the readings insert fails inside the same transaction.
    await sql`CREATE TRIGGER fail_readings BEFORE INSERT ON readings BEGIN
      SELECT RAISE(ABORT, 'injected failure'); END`.execute(handle.db);
    await assert.rejects(
      store.insertReadings([{ sensor: "bad", value: 2, unit: "", ts: T0 }]),
      /injected failure/,
    );
    await sql`CREATE TRIGGER fail_events BEFORE INSERT ON events BEGIN
      SELECT RAISE(ABORT, 'injected failure'); END`.execute(handle.db);
    await assert.rejects(
      store.insertEvent({ kind: "k", severity: "info", message: "m" }),
      /injected failure/,
    );
    assert.deepEqual((await store.readOutbox(0, 10)).map((row) => row.seq), [1]);
    assert.equal((await store.queryReadings({ limit: 10 })).length, 1);
    assert.equal((await store.listEvents({ limit: 10 })).length, 0);
    // The seq counter rolled back too: the next write continues without a gap.
    await sql`DROP TRIGGER fail_readings`.execute(handle.db);
    assert.equal(
      (await store.insertReadings([{ sensor: "ok", value: 3, unit: "", ts: T0 }])).lastSeq,
      2,
    );
  });
});

Deno.test("readings are filtered by sensor and time and returned newest first", async () => {
  await withStore(async ({ store }) => {
    const rows = [];
    for (let i = 0; i < 10; i++) {
      rows.push({ sensor: i % 2 ? "a" : "b", value: i, unit: "", ts: T0 + i * 1000 });
    }
    await store.insertReadings(rows);
    const a = await store.queryReadings({ sensor: "a", limit: 100 });
    assert.deepEqual(a.map((r) => r.value), [9, 7, 5, 3, 1]);
    const window = await store.queryReadings({ from: T0 + 2000, to: T0 + 5000, limit: 100 });
    assert.deepEqual(window.map((r) => r.value), [4, 3, 2]);
    assert.equal((await store.queryReadings({ limit: 3 })).length, 3);
    assert.deepEqual(await store.listSensors(), ["a", "b"]);
  });
});

Deno.test("bucket aggregation computes min, max, avg and count per sensor and bucket", async () => {
  await withStore(async ({ store }) => {
    await store.insertReadings([
      { sensor: "t", value: 1, unit: "", ts: T0 },
      { sensor: "t", value: 3, unit: "", ts: T0 + 30_000 },
      { sensor: "t", value: 10, unit: "", ts: T0 + 60_000 },
      { sensor: "u", value: 5, unit: "", ts: T0 + 1 },
    ]);
    const buckets = await store.aggregateReadings({ limit: 100 }, 60_000);
    assert.deepEqual(buckets, [
      { sensor: "t", bucket: "2026-11-01T00:00:00.000Z", min: 1, max: 3, avg: 2, count: 2 },
      { sensor: "u", bucket: "2026-11-01T00:00:00.000Z", min: 5, max: 5, avg: 5, count: 1 },
      { sensor: "t", bucket: "2026-11-01T00:01:00.000Z", min: 10, max: 10, avg: 10, count: 1 },
    ]);
  });
});

Deno.test("the average of values near the largest double is finite, not NULL", async () => {
  await withStore(async ({ store }) => {
    const max = Number.MAX_VALUE;
    await store.insertReadings([
      { sensor: "big", value: max, unit: "", ts: T0 },
      { sensor: "big", value: max, unit: "", ts: T0 + 1 },
      { sensor: "both", value: -max, unit: "", ts: T0 },
      { sensor: "both", value: max, unit: "", ts: T0 + 1 },
      { sensor: "tiny", value: 5e-324, unit: "", ts: T0 },
    ]);
    const avg = Object.fromEntries(
      (await store.aggregateReadings({ limit: 10 }, 60_000)).map((b) => [b.sensor, b.avg]),
    );
    assert.deepEqual(avg, { big: max, both: 0, tiny: 5e-324 });
  });
});

Deno.test("sensor activity lists the most recently active first, future-dated readings aside", async () => {
  await withStore(async ({ store }) => {
    await store.insertReadings([
      { sensor: "a", value: 1, unit: "", ts: T0 },
      { sensor: "b", value: 1, unit: "", ts: T0 + 5_000 },
      { sensor: "c", value: 1, unit: "", ts: T0 + 1_000 },
      { sensor: "c", value: 1, unit: "", ts: T0 + 10 * 86_400_000 },
      { sensor: "z", value: 1, unit: "", ts: T0 + 20 * 86_400_000 },
    ]);
    assert.deepEqual(await store.sensorActivity(T0 + 60_000), [
      { sensor: "b", lastTs: T0 + 5_000 },
      { sensor: "c", lastTs: T0 + 1_000 },
      { sensor: "a", lastTs: T0 },
      { sensor: "z", lastTs: null },
    ]);
  });
});

Deno.test("acknowledge prunes acked outbox rows, never lowers the acked seq and caps forged acks", async () => {
  await withStore(async ({ store }) => {
    await store.insertReadings(
      [1, 2, 3, 4].map((value) => ({ sensor: "t", value, unit: "", ts: T0 })),
    );
    assert.equal(await store.acknowledge(2), 2);
    assert.deepEqual((await store.readOutbox(0, 10)).map((row) => row.seq), [3, 4]);
    assert.equal(await store.acknowledge(1), 2);
    assert.equal(await store.acknowledge(99), 4);
    const stats = await store.outboxStats();
    assert.equal(stats.pending, 0);
    assert.equal(stats.ackedSeq, 4);
    assert.ok(stats.lastAckAt);
    // Readings stay queryable after their outbox records are pruned.
    assert.equal((await store.queryReadings({ limit: 10 })).length, 4);
  });
});

Deno.test("retention deletes old rows but never one that is not yet acked", async () => {
  await withStore(async ({ store }) => {
    const now = T0 + 40 * 86_400_000;
    await store.insertReadings([
      { sensor: "old-acked", value: 1, unit: "", ts: T0 },
      { sensor: "old-unacked", value: 2, unit: "", ts: T0 },
      { sensor: "fresh", value: 3, unit: "", ts: now },
    ]);
    await store.acknowledge(1);
    assert.equal(await store.pruneExpired(30, now), 1);
    const left = (await store.queryReadings({ limit: 10 })).map((r) => r.sensor).sort();
    assert.deepEqual(left, ["fresh", "old-unacked"]);
  });
});

Deno.test("a full database rejects the write and keeps everything already stored", async () => {
  await withStore(async ({ store, handle }) => {
    await store.insertReadings([{ sensor: "kept", value: 1, unit: "", ts: T0 }]);
    // Cap the file at its current size: the next pages cannot be allocated (SQLITE_FULL).
    const pages = pragmaValue(handle.raw, "page_count") as number;
    handle.raw.exec(`PRAGMA max_page_count = ${pages}`);
    const many = Array.from(
      { length: 5000 },
      (_, i) => ({ sensor: "x", value: i, unit: "", ts: T0 }),
    );
    await assert.rejects(store.insertReadings(many), (error: Error & { code?: string }) => {
      assert.match(String(error.code), /SQLITE_FULL/);
      return true;
    });
    handle.raw.exec("PRAGMA max_page_count = 1073741823");
    const stored = await store.queryReadings({ limit: 10 });
    assert.deepEqual(stored.map((r) => r.sensor), ["kept"]);
    assert.equal((await store.outboxStats()).lastSeq, 1);
  });
});

Deno.test("rebaseSeqs renumbers unacked records after the cloud's acked seq and keeps acked rows", async () => {
  await withStore(async ({ store }) => {
    await store.insertReadings(
      [1, 2, 3].map((value) => ({ sensor: "t", value, unit: "", ts: T0 })),
    );
    await store.acknowledge(1);
    await store.insertEvent({ kind: "k", severity: "info", message: "m" });
    // The cloud already holds seqs up to 500 from this device's earlier life.
    assert.equal(await store.rebaseSeqs(500), 499);
    assert.deepEqual((await store.readOutbox(0, 10)).map((row) => row.seq), [501, 502, 503]);
    const readings = await store.queryReadings({ limit: 10 });
    assert.deepEqual(readings.map((r) => [r.value, r.seq]).sort(), [[1, 1], [2, 501], [3, 502]]);
    assert.equal((await store.listEvents({ limit: 1 }))[0].seq, 503);
    assert.deepEqual(await store.outboxStats(), {
      lastSeq: 503,
      ackedSeq: 500,
      pending: 3,
      lastAckAt: (await store.outboxStats()).lastAckAt,
    });
    assert.equal(
      (await store.insertReadings([{ sensor: "t", value: 9, unit: "", ts: T0 }])).lastSeq,
      504,
    );
    assert.equal(await store.rebaseSeqs(400), 0, "a lower cloud ack changes nothing");
  });
});

Deno.test("readings, events, reported state and command results share one run of consecutive seqs", async () => {
  await withStore(async ({ store }) => {
    const appended: number[] = [];
    store.onAppend(() => appended.push(1));
    await store.insertReadings([{ sensor: "t", value: 1, unit: "C", ts: T0 }]);
    const event = await store.insertEvent({ kind: "door", severity: "info", message: "open" });
    assert.equal(event.seq, 2);
    const ts = new Date(T0).toISOString();
    assert.equal(
      await store.storeDesired(
        { version: 4, desired: { logLevel: "debug" } },
        { type: "reported", reported: { logLevel: "debug" }, ts },
      ),
      true,
    );
    assert.equal(
      await store.recordCommand(
        { id: "c1", name: "ping", status: "succeeded" },
        { type: "command_result", commandId: "c1", status: "succeeded", ts },
      ),
      true,
    );
    const rows = await store.readOutbox(0, 10);
    assert.deepEqual(rows.map((row) => row.seq), [1, 2, 3, 4]);
    assert.deepEqual(rows.map((row) => JSON.parse(row.payload).type), [
      "reading",
      "event",
      "reported",
      "command_result",
    ]);
    assert.equal(appended.length, 4, "every commit that appended woke the publisher");
  });
});

Deno.test("storeDesired keeps only newer versions and recordCommand records an id once", async () => {
  await withStore(async ({ store }) => {
    const ts = new Date(T0).toISOString();
    const report = (outcome: "applied" | "failed" = "applied") => ({
      type: "reported" as const,
      reported: {},
      ts,
      outcome,
      ...(outcome === "failed" ? { reason: "no" } : {}),
    });
    assert.equal(await store.storeDesired({ version: 2, desired: { a: 1 } }, report()), true);
    assert.equal(await store.storeDesired({ version: 2, desired: { a: 9 } }, report()), false);
    assert.equal(await store.storeDesired({ version: 1, desired: { a: 9 } }, report()), false);
    // A failed apply stores the desired state but keeps the applied version where it was.
    assert.equal(
      await store.storeDesired({ version: 3, desired: { a: 3 } }, report("failed")),
      true,
    );
    assert.deepEqual(await store.readConfig(), {
      desired: { a: 3 },
      desiredVersion: 3,
      appliedVersion: 2,
      lastFailure: { version: 3, reason: "no" },
    });
    assert.deepEqual(await store.appliedDesired(), { a: 1 }, "what a restart puts in force");
    const records = (await store.readOutbox(0, 10)).map((row) => JSON.parse(row.payload));
    assert.deepEqual(records.map((r) => r.appliedVersion), [2, 2], "the record says so too");
    assert.equal(await store.desiredVersion(), 3);
    const command = { id: "c1", name: "ping", status: "succeeded" as const };
    const result = {
      type: "command_result" as const,
      commandId: "c1",
      status: "succeeded" as const,
      ts,
    };
    assert.equal(await store.hasSeenCommand("c1"), false);
    assert.equal(await store.recordCommand(command, result), true);
    assert.equal(await store.hasSeenCommand("c1"), true);
    assert.equal(await store.recordCommand(command, result), false);
    assert.equal((await store.outboxStats()).lastSeq, 3, "nothing appended for refused writes");
  });
});
