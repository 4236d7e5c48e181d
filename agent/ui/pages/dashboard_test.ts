import assert from "node:assert/strict";
import { openAgentStore } from "../../store/open.ts";
import type { AgentStore } from "../../store/store.ts";
import type { SyncStatusView } from "../components/sync.tsx";
import { createDashboardLoader } from "./dashboard.tsx";

const SYNC = {
  state: "unenrolled",
  lastError: null,
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
  for (const name of ["listSensors", "listEvents", "queryReadings"] as const) {
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
    assert.deepEqual(afterWrite.sensors.map((s) => s.sensor), ["h", "t"]);
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
    const listSensors = store.listSensors.bind(store);
    store.listSensors = () => Promise.reject(new Error("disk I/O error"));
    await assert.rejects(load(), /disk I\/O error/);
    store.listSensors = listSensors;
    await store.insertReadings([{ sensor: "t", value: 1, unit: "C", ts: 1_000 }]);
    store.listSensors = () => Promise.reject(new Error("disk I/O error"));
    await assert.rejects(load(), /disk I\/O error/);
    store.listSensors = listSensors; // same generation as the failed read
    const loaded = await load();
    assert.deepEqual(loaded.sensors.map((s) => s.sensor), ["t"]);
  });
});
