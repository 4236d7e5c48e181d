import assert from "node:assert/strict";
import { openAgentStore } from "../../store/open.ts";
import type { AgentStore } from "../../store/store.ts";
import type { SyncStatusView } from "../components/sync.tsx";
import {
  createDashboardLoader,
  DASHBOARD_DEFAULT_SENSORS,
  DASHBOARD_MAX_SENSORS,
  parsePins,
  pinsCookie,
  pinsFromCookie,
} from "./dashboard.tsx";

const SYNC = {
  state: "unenrolled",
  lastError: null,
  problem: null,
  since: null,
  nextAttemptAt: null,
  lastSeq: 0,
  ackedSeq: 0,
  pending: 0,
  lastAckAt: null,
} as unknown as SyncStatusView;

async function withStore(fn: (store: AgentStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-dash-" });
  const { store, handle } = await openAgentStore(dir);
  try {
    await fn(store);
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Counts the store's reads by wrapping its query methods. */
function countReads(store: AgentStore): { reads: number } {
  const counter = { reads: 0 };
  for (const name of ["sensorActivity", "listEvents", "queryReadings"] as const) {
    const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counter.reads++;
      return original(...args);
    };
  }
  return counter;
}

Deno.test("the dashboard reads the store once per generation and sees every write", async () => {
  await withStore(async (store) => {
    await store.insertReadings([{ sensor: "t", value: 1, unit: "C", ts: 1_000 }]);
    const counter = countReads(store);
    const load = createDashboardLoader({
      store,
      syncStatus: () => Promise.resolve(SYNC),
      now: () => 5_000,
      pollMs: 5000,
    });
    const first = await load();
    const readsPerLoad = counter.reads;
    assert.equal(readsPerLoad, 3); // sensors, events, one sensor's readings
    const [second, third] = await Promise.all([load(), load()]);
    assert.equal(counter.reads, readsPerLoad, "no store read while nothing was written");
    assert.deepEqual(second.sensors, first.sensors);
    assert.deepEqual(third.sensors, first.sensors);

    await store.insertReadings([{ sensor: "h", value: 40, unit: "%", ts: 2_000 }]);
    const afterWrite = await load();
    assert.deepEqual(afterWrite.sensors.map((s) => s.sensor), ["h", "t"], "newest first");
    assert.equal(afterWrite.sensorCount, 2);
    await store.insertEvent({ kind: "note", severity: "info", message: "door open" }, {
      now: 3_000,
    });
    const afterEvent = await load();
    assert.equal(afterEvent.events[0]?.message, "door open");
  });
});

Deno.test("a failed dashboard read is not kept: the next load reads again", async () => {
  await withStore(async (store) => {
    const load = createDashboardLoader({
      store,
      syncStatus: () => Promise.resolve(SYNC),
      now: () => 5_000,
      pollMs: 5000,
    });
    const sensorActivity = store.sensorActivity.bind(store);
    store.sensorActivity = () => Promise.reject(new Error("disk I/O error"));
    await assert.rejects(load(), /disk I\/O error/);
    store.sensorActivity = sensorActivity;
    await store.insertReadings([{ sensor: "t", value: 1, unit: "C", ts: 1_000 }]);
    store.sensorActivity = () => Promise.reject(new Error("disk I/O error"));
    await assert.rejects(load(), /disk I\/O error/);
    store.sensorActivity = sensorActivity; // same generation as the failed read
    const loaded = await load();
    assert.deepEqual(loaded.sensors.map((s) => s.sensor), ["t"]);
  });
});

Deno.test("by default the dashboard charts the most recently active sensors, not the first by name", async () => {
  await withStore(async (store) => {
    const now = Date.parse("2026-11-26T12:00:00Z");
    // temperature is the live one; twenty test sensors wrote once, earlier, and sort before it.
    await store.insertReadings(
      Array.from({ length: 20 }, (_, i) => ({
        sensor: `a-test-${String(i).padStart(2, "0")}`,
        value: i,
        unit: "",
        ts: now - 3_600_000 + i,
      })),
    );
    await store.insertReadings([
      { sensor: "temperature", value: 21, unit: "C", ts: now - 1000 },
      // A clock years ahead must not keep its sensor on top.
      { sensor: "a-clock-ahead", value: 1, unit: "", ts: Date.parse("9999-12-31T23:59:59Z") },
    ]);
    const load = createDashboardLoader({
      store,
      syncStatus: () => Promise.resolve(SYNC),
      now: () => now,
      pollMs: 5000,
    });
    const data = await load();
    assert.equal(data.sensors.length, DASHBOARD_DEFAULT_SENSORS);
    assert.equal(data.sensors[0].sensor, "temperature");
    assert.equal(data.sensors[1].sensor, "a-test-19");
    assert.equal(data.sensorCount, 22);
    assert.deepEqual(data.pinned, []);
    assert.equal(data.choices.at(-1)?.sensor, "a-clock-ahead");
    assert.equal(data.choices.at(-1)?.lastTs, null);

    const pinned = await load(["a-test-03", "nonexistent", "temperature"]);
    assert.deepEqual(pinned.sensors.map((s) => s.sensor), ["a-test-03", "temperature"]);
    assert.deepEqual(pinned.pinned, ["a-test-03", "temperature"], "unknown names are dropped");
  });
});

Deno.test("pins are parsed from the form and kept in a cookie that round-trips", () => {
  const many = Array.from({ length: 20 }, (_, i) => `s${i}`);
  assert.equal(parsePins(many).length, DASHBOARD_MAX_SENSORS);
  assert.deepEqual(parsePins([" a ", "a", "", "b/c:d", "x".repeat(65)]), ["a", "b/c:d"]);
  const cookie = pinsCookie(["temp", "site/1:hum"], false);
  assert.match(
    cookie,
    /^outpost_pins=temp%2Csite%2F1%3Ahum; Max-Age=31536000; Path=\/; SameSite=Lax; HttpOnly$/,
  );
  const value = cookie.split(";")[0];
  assert.deepEqual(pinsFromCookie(`other=1; ${value}`), ["temp", "site/1:hum"]);
  assert.match(pinsCookie([], true), /^outpost_pins=; Max-Age=0; .*; Secure$/);
  assert.deepEqual(pinsFromCookie("outpost_pins=%E0%A4%A"), [], "a broken cookie is ignored");
  assert.deepEqual(pinsFromCookie(undefined), []);
});
