/**
 * The cloud store's behaviour, written once and run against each dialect: `store_test.ts` runs
 * it on libSQL (`deno task test`), `tests/system/postgres_test.ts` on a real PostgreSQL
 * (`deno task test:system`). A case gets a freshly migrated, empty store; a migration case
 * gets the location of an empty database.
 * @module
 */
import assert from "node:assert/strict";
import type { BatchRecord } from "@outpost/protocol";
import { enrollForTest, reading, readingBatch } from "./fixtures.ts";
import { cloudMigrations } from "../store/migrations/mod.ts";
import { openCloudDatabase, openCloudStore } from "../store/open.ts";
import { idempotencyRecords } from "../store/idempotency.ts";
import { runMigrations } from "@outpost/platform/sqlite";
import type { Kysely } from "kysely";
import type { MigrationCase, StoreCase } from "./cases.ts";
import { deviceCases } from "./device_cases.ts";
import { fleetCases } from "./fleet_cases.ts";
import { parsed } from "./selectors.ts";

export type { MigrationCase, StoreCase } from "./cases.ts";

const ALL_MIGRATIONS = Object.keys(cloudMigrations).sort();

/** Migration behaviour shared by both dialects. */
export const migrationCases: MigrationCase[] = [
  {
    name: "migrations create the schema on an empty database and are a no-op on an existing one",
    async run(location) {
      const first = await openCloudDatabase(location);
      try {
        assert.deepEqual(await first.migrate(), ALL_MIGRATIONS);
        await enrollForTest(first.store, "pi-1");
        await first.store.commitBatch("pi-1", readingBatch(1, 3));
      } finally {
        await first.handle.close();
      }
      const second = await openCloudStore(location);
      try {
        assert.deepEqual(await second.migrate(), []);
        assert.equal((await second.store.getDevice("pi-1"))?.stats.readings, 3);
      } finally {
        await second.handle.close();
      }
    },
  },
  {
    name:
      "a database migrated by an earlier release gets only the newer migrations and keeps its data",
    async run(location) {
      const [oldest, ...newer] = ALL_MIGRATIONS;
      const old = await openCloudDatabase(location);
      try {
        // What the first release did: only its own migration.
        assert.deepEqual(
          await runMigrations(old.handle.db, { [oldest]: cloudMigrations[oldest] }),
          [oldest],
        );
        // Rows as that release wrote them (today's store writes tables it did not have):
        // seqs 1..20 and 31..40 stored, the ack at 20, a range above the gap.
        // deno-lint-ignore no-explicit-any
        const db = old.handle.db as unknown as Kysely<any>;
        await db.insertInto("devices").values([
          { id: "pi-1", labels: '{"site":"berlin","role":"gw"}', enrolled_at: 1, acked_seq: 20 },
          { id: "pi-2", labels: "{}", enrolled_at: 1, acked_seq: 0 },
        ]).execute();
        const rows = [...readingBatch(1, 20).records, ...readingBatch(31, 40).records]
          .map((r) =>
            r.type === "reading" && ({
              device_id: "pi-1",
              seq: r.seq,
              sensor: r.sensor,
              value: r.value,
              unit: r.unit,
              device_ts: Date.parse(r.ts),
              received_at: 1,
            })
          );
        await db.insertInto("readings").values(rows).execute();
        await db.insertInto("received_ranges").values({
          device_id: "pi-1",
          from_seq: 31,
          to_seq: 40,
        }).execute();
      } finally {
        await old.handle.close();
      }
      const current = await openCloudDatabase(location);
      try {
        assert.deepEqual(await current.migrate(), newer);
        const device = await current.store.getDevice("pi-1");
        // The row counters are filled from what is stored, and the labels become rows.
        assert.equal(device?.stats.readings, 30);
        assert.equal(device?.ackedSeq, 20);
        // Devices from before 0003 are active, without a device secret.
        assert.equal(device?.status, "active");
        assert.equal((await current.store.deviceIdentity("pi-1"))?.secretHash, null);
        assert.deepEqual(device?.labels, { site: "berlin", role: "gw" });
        const berlin = await current.store.listDevicesPage({
          limit: 10,
          selector: parsed("site=berlin"),
        });
        assert.deepEqual(berlin.items.map((d) => d.id), ["pi-1"]);
        assert.equal((await current.store.commitBatch("pi-1", readingBatch(21, 30))).ackedSeq, 40);
        assert.equal((await current.store.queryReadings({ limit: 1000 })).length, 40);
        assert.equal((await current.store.getDevice("pi-1"))?.stats.readings, 40);
      } finally {
        await current.handle.close();
      }
    },
  },
];

/** Store behaviour shared by both dialects. */
export const storeCases: StoreCase[] = [
  {
    name: "minted broker credentials chain: each issue revokes the previous ones, in order",
    async run(store) {
      assert.deepEqual(await store.issueBrokerCredential("d1", 1000), { issuedAt: 1000 });
      assert.deepEqual(await store.brokerRevocations(), [], "a first credential revokes nothing");
      // Re-enrolled within the same second: the new credential is one second later.
      assert.deepEqual(await store.issueBrokerCredential("d1", 1000), {
        issuedAt: 1001,
        revokedThrough: 1000,
      });
      assert.deepEqual(await store.issueBrokerCredential("d1", 2000), {
        issuedAt: 2000,
        revokedThrough: 1001,
      });
      assert.equal(await store.revokeBrokerCredentials("d1"), true);
      assert.deepEqual(await store.brokerCredentialTimes("d1"), {
        issuedAt: 2000,
        revokedThrough: 2000,
      });
      // A clock that went back never issues a credential its revocation already covers.
      assert.deepEqual(await store.issueBrokerCredential("d1", 1500), {
        issuedAt: 2001,
        revokedThrough: 2000,
      });
      assert.equal(await store.revokeBrokerCredentials("never"), false);
      await store.issueBrokerCredential("d0", 10);
      await store.revokeBrokerCredentials("d0");
      assert.deepEqual(await store.brokerRevocations(), [
        { deviceId: "d0", revokedThrough: 10 },
        { deviceId: "d1", revokedThrough: 2000 },
      ]);
    },
  },
  {
    name: "fleet stats count devices by state, backlog and how long the offline ones are gone",
    async run(store) {
      const now = Date.now();
      for (const id of ["a", "b", "c"]) await enrollForTest(store, id);
      await store.commitBatch("a", readingBatch(1, 3), { now });
      await store.applyStatus("a", { online: true, lastSeq: 10 }, { now });
      await store.applyStatus("b", { online: false, lastSeq: 5 }, { now: now - 7_200_000 });
      const stats = await store.fleetStats(now, [60_000, 3_600_000, 86_400_000]);
      assert.equal(stats.total, 3);
      assert.equal(stats.online, 1);
      assert.equal(stats.offline, 2);
      assert.equal(stats.lagging, 2, "a knows seq 10 with 3 acked, b knows 5 with 0 acked");
      assert.equal(stats.backlogRecords, 7 + 5);
      assert.equal(stats.backlogMaxRecords, 7);
      // b was last seen 2 h ago; c never connected and was enrolled just now.
      assert.deepEqual(stats.offlineLongerThan.map((entry) => entry.devices), [1, 1, 0]);
    },
  },
  {
    name: "enrolling again rotates the password and keeps the device's data and position",
    async run(store) {
      assert.deepEqual(
        await store.enrollDevice({ id: "pi-1", passwordHash: "h1", labels: { site: "a" } }),
        { created: true, ackedSeq: 0 },
      );
      await store.commitBatch("pi-1", readingBatch(1, 5));
      assert.deepEqual(
        await store.enrollDevice({ id: "pi-1", passwordHash: "h2", version: "1.2.0" }),
        { created: false, ackedSeq: 5 },
      );
      assert.equal(await store.passwordHash("pi-1"), "h2");
      const device = await store.getDevice("pi-1");
      assert.equal(device?.ackedSeq, 5);
      assert.equal(device?.version, "1.2.0");
      assert.deepEqual(device?.labels, { site: "a" });
      assert.equal(await store.passwordHash("nobody"), undefined);
    },
  },
  {
    name: "a duplicate batch is stored once and answered with the same ack",
    async run(store) {
      await enrollForTest(store, "pi-1");
      const first = await store.commitBatch("pi-1", readingBatch(1, 10));
      assert.equal(first.ackedSeq, 10);
      assert.equal(first.inserted.readings, 10);
      const again = await store.commitBatch("pi-1", readingBatch(1, 10));
      assert.equal(again.duplicate, true);
      assert.equal(again.ackedSeq, 10);
      // A resend that overlaps the stored prefix stores only the new part.
      const overlap = await store.commitBatch("pi-1", readingBatch(6, 12));
      assert.equal(overlap.inserted.readings, 2);
      assert.equal(overlap.ackedSeq, 12);
      assert.equal((await store.getDevice("pi-1"))?.stats.readings, 12);
    },
  },
  {
    name:
      "a batch after a gap is stored but the ack stays at the contiguous prefix until the gap fills",
    async run(store) {
      await enrollForTest(store, "pi-1");
      assert.equal((await store.commitBatch("pi-1", readingBatch(1, 10))).ackedSeq, 10);
      const afterGap = await store.commitBatch("pi-1", readingBatch(21, 30));
      assert.equal(afterGap.ackedSeq, 10);
      assert.equal(afterGap.lastSeq, 30);
      const another = await store.commitBatch("pi-1", readingBatch(41, 45));
      assert.equal(another.ackedSeq, 10);
      let device = await store.getDevice("pi-1");
      assert.equal(device?.stats.readings, 25);
      assert.equal(device?.lag, 35);
      // Filling the first gap jumps the ack over the stored range after it.
      assert.equal((await store.commitBatch("pi-1", readingBatch(11, 20))).ackedSeq, 30);
      assert.equal((await store.commitBatch("pi-1", readingBatch(31, 40))).ackedSeq, 45);
      device = await store.getDevice("pi-1");
      assert.equal(device?.lag, 0);
      const ranges = await store.db.selectFrom("received_ranges").selectAll().execute();
      assert.deepEqual(ranges, [], "ranges below the ack are pruned");
    },
  },
  {
    name:
      "one batch of 1,000 readings and events is stored in full, values and texts exact, and a seq repeated inside a batch is stored once",
    async run(store) {
      await enrollForTest(store, "pi-1");
      const records: BatchRecord[] = [];
      for (let seq = 1; seq <= 1000; seq++) {
        records.push(
          seq % 10 === 0
            ? {
              seq,
              type: "event",
              id: `e${seq}`,
              kind: "door",
              severity: "info",
              // Characters an array literal must escape; NULL-like text stays text.
              message: seq === 10 ? 'q"uo\\te, {br}ace NULL' : `event ${seq}`,
              ...(seq === 20 ? {} : { data: { n: seq, s: "x,y" } }),
              ts: "2026-11-26T10:00:00Z",
            }
            : {
              seq,
              type: "reading",
              sensor: `s,"${seq % 3}`,
              value: seq === 1 ? 0.1 + 0.2 : seq * 1.5,
              unit: "C",
              ts: "2026-11-26T10:00:00Z",
            },
        );
      }
      const outcome = await store.commitBatch("pi-1", { from: 1, to: 1000, records });
      assert.deepEqual(outcome.inserted, { readings: 900, events: 100 });
      assert.equal(outcome.ackedSeq, 1000);
      const stored = await store.queryReadings({ device: "pi-1", limit: 1000 });
      assert.equal(stored.length, 900);
      const bySeq = new Map(stored.map((r) => [r.seq, r]));
      assert.equal(bySeq.get(1)?.value, 0.1 + 0.2, "a double round-trips exactly");
      assert.equal(bySeq.get(3)?.value, 4.5);
      assert.equal(bySeq.get(3)?.sensor, 's,"0');
      const events = await store.listEvents({ device: "pi-1", limit: 1000 });
      assert.equal(events.length, 100);
      const byId = new Map(events.map((e) => [e.id, e]));
      assert.equal(byId.get("e10")?.message, 'q"uo\\te, {br}ace NULL');
      assert.ok(byId.has("e20"));
      assert.equal(byId.get("e20")?.data ?? null, null, "no data stays no data");
      assert.deepEqual(byId.get("e30")?.data, { n: 30, s: "x,y" });

      // The same seq twice in one batch (a sender bug): stored once, no error.
      const twice = await store.commitBatch("pi-1", {
        from: 1001,
        to: 1002,
        records: [reading(1001, 1), reading(1001, 2), reading(1002)],
      });
      assert.equal(twice.inserted.readings, 2);
      assert.equal(twice.ackedSeq, 1002);
      assert.equal((await store.getDevice("pi-1"))?.stats.readings, 902);
    },
  },
  {
    name: "overlapping and out-of-order batches store every seq once and the ack stays contiguous",
    async run(store) {
      await enrollForTest(store, "pi-1");
      const commit = (from: number, to: number) =>
        store.commitBatch("pi-1", readingBatch(from, to));
      assert.equal((await commit(1, 100)).ackedSeq, 100);
      // Gaps, a longer resend from the same seq, and overlaps on both sides of a gap.
      assert.equal((await commit(201, 250)).ackedSeq, 100);
      assert.equal((await commit(201, 300)).ackedSeq, 100);
      assert.equal((await commit(401, 500)).ackedSeq, 100);
      assert.equal((await commit(350, 420)).ackedSeq, 100);
      const filled = await commit(50, 210);
      assert.equal(filled.inserted.readings, 100, "101..200 only");
      assert.equal(filled.ackedSeq, 300);
      assert.equal((await commit(290, 360)).ackedSeq, 500);
      assert.equal((await commit(1, 500)).duplicate, true);
      const device = await store.getDevice("pi-1");
      assert.equal(device?.stats.readings, 500);
      assert.equal(device?.ackedSeq, 500);
      const ranges = await store.db.selectFrom("received_ranges").selectAll().execute();
      assert.deepEqual(ranges, [], "ranges below the ack are pruned");
      const seqs = (await store.queryReadings({ device: "pi-1", limit: 1000 })).map((r) => r.seq)
        .sort((a, b) => a - b);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
    },
  },
  {
    name: "a batch from a device that is not enrolled stores nothing",
    async run(store) {
      const outcome = await store.commitBatch("ghost", readingBatch(1, 3));
      assert.equal(outcome.known, false);
      assert.deepEqual(await store.queryReadings({ limit: 10 }), []);
    },
  },
  {
    name: "reported state follows the newest record and applied version never goes down",
    async run(store) {
      await enrollForTest(store, "pi-1");
      const ts = "2026-11-26T10:00:00Z";
      const records: BatchRecord[] = [
        { seq: 1, type: "reported", appliedVersion: 3, reported: { a: 1 }, ts },
        { seq: 2, type: "reported", appliedVersion: 2, reported: { a: 2 }, ts },
      ];
      await store.commitBatch("pi-1", { from: 1, to: 2, records });
      let device = await store.getDevice("pi-1");
      assert.equal(device?.appliedVersion, 3);
      assert.deepEqual(device?.reported, { a: 2 });
      // An older record arriving late (after a gap was filled) does not overwrite newer state.
      await store.commitBatch("pi-1", {
        from: 4,
        to: 4,
        records: [{ seq: 4, type: "reported", appliedVersion: 5, reported: { a: 4 }, ts }],
      });
      await store.commitBatch("pi-1", {
        from: 3,
        to: 3,
        records: [{ seq: 3, type: "reported", appliedVersion: 4, reported: { a: 3 }, ts }],
      });
      device = await store.getDevice("pi-1");
      assert.equal(device?.appliedVersion, 5);
      assert.deepEqual(device?.reported, { a: 4 });
    },
  },
  {
    name: "command results settle commands once and unknown command ids are reported",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await enrollForTest(store, "pi-2");
      const ping = await store.createCommand({ deviceId: "pi-1", name: "ping" });
      const other = await store.createCommand({ deviceId: "pi-2", name: "ping" });
      await store.markDelivered([ping.id]);
      assert.equal((await store.getCommand("pi-1", ping.id))?.status, "delivered");
      const ts = "2026-11-26T10:00:00Z";
      const outcome = await store.commitBatch("pi-1", {
        from: 1,
        to: 3,
        records: [
          {
            seq: 1,
            type: "command_result",
            commandId: ping.id,
            status: "succeeded",
            result: 42,
            ts,
          },
          { seq: 2, type: "command_result", commandId: ping.id, status: "failed", error: "x", ts },
          { seq: 3, type: "command_result", commandId: other.id, status: "failed", ts },
        ],
      });
      assert.deepEqual(outcome.unknownCommands, [other.id]);
      const settled = await store.getCommand("pi-1", ping.id);
      assert.equal(settled?.status, "succeeded");
      assert.equal(settled?.result, 42);
      assert.equal(settled?.error, undefined);
      assert.equal((await store.getCommand("pi-2", other.id))?.status, "queued");
      assert.deepEqual((await store.unansweredCommands("pi-1")).map((c) => c.id), []);
      await store.markDelivered([ping.id]);
      assert.equal((await store.getCommand("pi-1", ping.id))?.status, "succeeded");
    },
  },
  {
    name: "readings are queried per device and sensor, by device time, and aggregated",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await enrollForTest(store, "pi-2");
      const base = Date.parse("2026-11-26T10:00:00Z");
      const records = (offset: number): BatchRecord[] =>
        Array.from({ length: 120 }, (_, i) => ({
          seq: i + 1,
          type: "reading" as const,
          sensor: i % 2 ? "a" : "b",
          value: i + offset,
          unit: "C",
          ts: new Date(base + i * 1000).toISOString(),
        }));
      await store.commitBatch("pi-1", { from: 1, to: 120, records: records(0) });
      await store.commitBatch("pi-2", { from: 1, to: 120, records: records(1000) });
      const latest = await store.queryReadings({ device: "pi-1", sensor: "a", limit: 3 });
      assert.deepEqual(latest.map((r) => r.value), [119, 117, 115]);
      assert.equal(latest[0].device, "pi-1");
      assert.equal(latest[0].ts, "2026-11-26T10:01:59.000Z");
      assert.match(latest[0].receivedAt, /^\d{4}-/);
      const window = await store.queryReadings({
        device: "pi-2",
        from: base + 10_000,
        to: base + 13_000,
        limit: 100,
      });
      assert.deepEqual(window.map((r) => r.value), [1012, 1011, 1010]);
      assert.equal((await store.queryReadings({ limit: 1000 })).length, 240);
      const buckets = await store.aggregateReadings({ sensor: "b", limit: 100 }, 60_000);
      assert.deepEqual(buckets.map((b) => [b.device, b.count]), [
        ["pi-1", 30],
        ["pi-2", 30],
        ["pi-1", 30],
        ["pi-2", 30],
      ]);
      assert.deepEqual(buckets[0], {
        device: "pi-1",
        sensor: "b",
        bucket: "2026-11-26T10:00:00.000Z",
        min: 0,
        max: 58,
        avg: 29,
        count: 30,
      });
    },
  },
  {
    name: "a device's sensors are listed most recently active first, future-dated readings aside",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await enrollForTest(store, "pi-2");
      const base = Date.parse("2026-11-26T10:00:00Z");
      const at = (seq: number, sensor: string, ms: number): BatchRecord => ({
        seq,
        type: "reading",
        sensor,
        value: seq,
        unit: "",
        ts: new Date(ms).toISOString(),
      });
      await store.commitBatch("pi-1", {
        from: 1,
        to: 5,
        records: [
          at(1, "a-old", base),
          at(2, "temperature", base + 60_000),
          at(3, "b-mid", base + 30_000),
          at(4, "b-mid", base + 20_000),
          at(5, "clock-ahead", Date.parse("9999-12-31T23:59:59Z")),
        ],
      });
      await store.commitBatch("pi-2", { from: 1, to: 1, records: [at(1, "other", base)] });
      assert.deepEqual(await store.sensorActivity("pi-1", base + 3_600_000), [
        { sensor: "temperature", lastTs: base + 60_000 },
        { sensor: "b-mid", lastTs: base + 30_000 },
        { sensor: "a-old", lastTs: base },
        { sensor: "clock-ahead", lastTs: null },
      ]);
      assert.deepEqual(await store.sensorActivity("pi-9", base), []);
    },
  },
  {
    name: "events are listed newest first with their data, per device",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await store.commitBatch("pi-1", {
        from: 1,
        to: 2,
        records: [
          {
            seq: 1,
            type: "event",
            id: "e1",
            kind: "door",
            severity: "warning",
            message: "Door opened",
            data: { door: 2 },
            ts: "2026-11-26T10:00:00Z",
          },
          reading(2),
        ],
      });
      const events = await store.listEvents({ device: "pi-1", limit: 10 });
      assert.deepEqual(events.map((e) => [e.id, e.kind, e.data]), [["e1", "door", { door: 2 }]]);
      assert.deepEqual(await store.listEvents({ device: "pi-2", limit: 10 }), []);
    },
  },
  {
    name: "desired versions go up by one per change and unknown devices get none",
    async run(store) {
      await enrollForTest(store, "pi-1");
      assert.equal((await store.setDesired("pi-1", { interval: 5 }))?.version, 1);
      assert.equal((await store.setDesired("pi-1", { interval: 10 }))?.version, 2);
      assert.equal(await store.setDesired("ghost", {}), undefined);
      const state = await store.downlinkState("pi-1");
      assert.deepEqual(state, {
        active: true,
        ackedSeq: 0,
        desired: { interval: 10 },
        desiredVersion: 2,
        appliedVersion: 0,
      });
      await store.setDeviceStatus("pi-1", "revoked");
      assert.equal((await store.downlinkState("pi-1"))?.active, false);
    },
  },
  {
    name: "presence updates online, version and last seq, and never lowers last seq",
    async run(store) {
      await enrollForTest(store, "pi-1");
      assert.deepEqual(
        await store.applyStatus("pi-1", {
          online: true,
          version: "1.0",
          arch: "arm64",
          lastSeq: 9,
        }),
        { ackedSeq: 0, active: true, clamped: false },
      );
      await store.applyStatus("pi-1", { online: true, lastSeq: 4 });
      let device = await store.getDevice("pi-1");
      assert.equal(device?.online, true);
      assert.equal(device?.lastSeq, 9);
      assert.equal(device?.arch, "arm64");
      assert.ok(device?.lastSeen);
      assert.equal(await store.countOnline(), 1);
      await store.markOffline("pi-1");
      device = await store.getDevice("pi-1");
      assert.equal(device?.online, false);
      await store.applyStatus("pi-1", { online: true });
      await store.markAllOffline();
      assert.equal(await store.countOnline(), 0);
      assert.equal(await store.applyStatus("ghost", { online: true }), undefined);
    },
  },
  {
    name:
      "a batch far larger than one INSERT is stored whole, in chunks under the bind-parameter limits",
    async run(store) {
      await enrollForTest(store, "pi-1");
      // 12,000 events of 9 columns would be 108,000 parameters in one statement: more than
      // PostgreSQL (65,535) or SQLite (32,766) accept.
      const ts = "2026-11-26T10:00:00Z";
      const records: BatchRecord[] = [];
      for (let seq = 1; seq <= 24_000; seq++) {
        records.push(
          seq % 2
            ? { seq, type: "event", id: `e${seq}`, kind: "k", severity: "info", message: "m", ts }
            : reading(seq),
        );
      }
      const outcome = await store.commitBatch("pi-1", { from: 1, to: 24_000, records });
      assert.deepEqual(outcome.inserted, { readings: 12_000, events: 12_000 });
      assert.equal(outcome.ackedSeq, 24_000);
      assert.deepEqual((await store.getDevice("pi-1"))?.stats, {
        readings: 12_000,
        events: 12_000,
      });
      const again = await store.commitBatch("pi-1", { from: 1, to: 24_000, records });
      assert.equal(again.duplicate, true);
    },
  },
  {
    name:
      "concurrent commits of overlapping, adjacent and out-of-order batches of one device end contiguous with no duplicates",
    async run(store) {
      await enrollForTest(store, "pi-1");
      const batches = concurrentBatches(2_000);
      const outcomes = await Promise.all(batches.map((b) => store.commitBatch("pi-1", b)));
      assert.ok(outcomes.every((o) => o.known));
      const device = await store.getDevice("pi-1");
      assert.equal(device?.ackedSeq, 2_000);
      assert.equal(device?.lag, 0);
      assert.equal(device?.stats.readings, 2_000);
      const stored = outcomes.reduce((sum, o) => sum + o.inserted.readings, 0);
      assert.equal(stored, 2_000, "each seq counted as inserted exactly once");
      assert.deepEqual(await store.db.selectFrom("received_ranges").selectAll().execute(), []);
    },
  },
  {
    name: "concurrent enrollments and desired-state changes of one device lose no update",
    async run(store) {
      const enrolled = await Promise.all(
        Array.from(
          { length: 6 },
          (_, i) => store.enrollDevice({ id: "pi-1", passwordHash: `h${i}` }),
        ),
      );
      assert.equal(enrolled.filter((e) => e.created).length, 1);
      const versions = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.setDesired("pi-1", { step: i })),
      );
      assert.deepEqual(
        versions.map((v) => v!.version).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal((await store.downlinkState("pi-1"))?.desiredVersion, 20);
    },
  },
  {
    name:
      "enrollment modes: create refuses an existing id, rotate refuses a missing or inactive one, a token's uses are counted atomically",
    async run(store) {
      const token = await store.createEnrollmentToken({ name: "t", tokenHash: "h1", maxUses: 1 });
      const created = await store.enrollIdentity(
        { id: "pi-1", passwordHash: "p1", secretHash: "s1", tokenId: token.id },
        "create",
      );
      assert.deepEqual(created, { ok: true, created: true, ackedSeq: 0 });
      assert.deepEqual((await store.getEnrollmentToken(token.id))?.uses, 1);
      assert.deepEqual(
        await store.enrollIdentity({ id: "pi-1", passwordHash: "p2" }, "create"),
        { ok: false, reason: "exists" },
      );
      // The token is used up: a second device is refused and nothing of it is stored.
      assert.deepEqual(
        await store.enrollIdentity({ id: "pi-2", passwordHash: "p", tokenId: token.id }, "create"),
        { ok: false, reason: "token_unusable" },
      );
      assert.equal(await store.deviceExists("pi-2"), false);
      assert.deepEqual(
        await store.enrollIdentity({ id: "ghost", passwordHash: "p" }, "rotate"),
        { ok: false, reason: "not_found" },
      );
      const rotated = await store.enrollIdentity({ id: "pi-1", passwordHash: "p3" }, "rotate");
      assert.deepEqual(rotated, { ok: true, created: false, ackedSeq: 0 });
      assert.equal(await store.passwordHash("pi-1"), "p3");
      assert.deepEqual(await store.deviceIdentity("pi-1"), {
        status: "active",
        secretHash: "s1",
        tokenId: token.id,
      });
      await store.setDeviceStatus("pi-1", "revoked");
      assert.deepEqual(
        await store.enrollIdentity({ id: "pi-1", passwordHash: "p4" }, "rotate"),
        { ok: false, reason: "inactive" },
      );
      assert.equal(await store.passwordHash("pi-1"), null, "a revoked device has no password");
    },
  },
  {
    name:
      "an enrollment request is one row per device and secret; approving one rejects the others",
    async run(store) {
      await store.enrollDevice({ id: "pi-1", passwordHash: "p", secretHash: "old" });
      const first = await store.recordEnrollmentRequest({ deviceId: "pi-1", secretHash: "a" });
      const again = await store.recordEnrollmentRequest({
        deviceId: "pi-1",
        secretHash: "a",
        address: "192.0.2.1",
      });
      assert.equal(again.id, first.id);
      assert.equal(again.attempts, 2);
      assert.equal(again.address, "192.0.2.1");
      const other = await store.recordEnrollmentRequest({ deviceId: "pi-1", secretHash: "b" });
      const decided = await store.decideEnrollmentRequest(first.id, "approved");
      assert.ok(decided.ok);
      assert.equal((await store.deviceIdentity("pi-1"))?.secretHash, "a");
      assert.equal(await store.passwordHash("pi-1"), null, "the old holder's password goes");
      assert.equal((await store.getEnrollmentRequest(other.id))?.status, "rejected");
      assert.deepEqual(await store.decideEnrollmentRequest(first.id, "rejected"), {
        ok: false,
        reason: "already_decided",
      });
      assert.deepEqual(await store.listEnrollmentRequests({ status: "pending", limit: 10 }), []);
      // Once the device's secret changes again, the old approval no longer holds.
      await store.enrollIdentity({ id: "pi-1", passwordHash: "p", secretHash: "c" }, "upsert");
      const reopened = await store.recordEnrollmentRequest({ deviceId: "pi-1", secretHash: "a" });
      assert.equal(reopened.status, "pending");
    },
  },
  {
    name: "at most ten pending requests are kept per device, the oldest dropped",
    async run(store) {
      await enrollForTest(store, "pi-1");
      for (let i = 0; i < 12; i++) {
        await store.recordEnrollmentRequest({ deviceId: "pi-1", secretHash: `s${i}` }, 1000 + i);
      }
      const pending = await store.listEnrollmentRequests({ deviceId: "pi-1", limit: 100 });
      assert.equal(pending.length, 10);
      assert.ok(!pending.some((r) => r.lastAttemptAt === new Date(1000).toISOString()));
    },
  },
  {
    name:
      "deleting a device keeps its data under a tombstone at its highest seq, or purges it with its rows",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await store.commitBatch("pi-1", readingBatch(1, 5));
      await store.commitBatch("pi-1", readingBatch(9, 12));
      await store.createCommand({ deviceId: "pi-1", name: "ping" });
      assert.deepEqual(await store.deleteDevice("pi-1", { purge: false }), {
        readings: 9,
        events: 0,
      });
      assert.equal(await store.getDevice("pi-1"), undefined);
      assert.deepEqual((await store.listDevicesPage({ limit: 10 })).items, []);
      assert.equal((await store.queryReadings({ device: "pi-1", limit: 100 })).length, 9);
      assert.equal(await store.deleteDevice("pi-1", { purge: false }), undefined);
      const revived = await store.enrollIdentity({ id: "pi-1", passwordHash: "p" }, "create");
      assert.deepEqual(revived, { ok: true, created: true, ackedSeq: 12 });
      assert.deepEqual(await store.deleteDevice("pi-1", { purge: true }), {
        readings: 9,
        events: 0,
      });
      assert.equal((await store.queryReadings({ device: "pi-1", limit: 100 })).length, 0);
      assert.deepEqual(await store.listCommands("pi-1", 10), []);
      assert.equal(await store.deviceIdentity("pi-1"), undefined);
    },
  },
  {
    name: "resetting a position drops what is stored above it and never lowers it",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await store.commitBatch("pi-1", readingBatch(1, 5));
      await store.commitBatch("pi-1", readingBatch(20, 22));
      assert.deepEqual(await store.resetPosition("pi-1"), {
        ok: true,
        ackedSeq: 5,
        lastSeq: 5,
        discarded: { readings: 3, events: 0 },
      });
      assert.deepEqual(await store.resetPosition("pi-1", 4), {
        ok: false,
        reason: "below_ack",
        ackedSeq: 5,
      });
      assert.equal((await store.resetPosition("pi-1", 100)).ok, true);
      const device = await store.getDevice("pi-1");
      assert.deepEqual([device?.ackedSeq, device?.lastSeq, device?.stats.readings], [100, 100, 5]);
      // The device's next batch after the new position is stored as contiguous.
      assert.equal((await store.commitBatch("pi-1", readingBatch(101, 102))).ackedSeq, 102);
      assert.deepEqual(await store.resetPosition("ghost"), { ok: false, reason: "not_found" });
    },
  },
  {
    name:
      "an Idempotency-Key is claimed once, replayed once complete, and free again when released",
    async run(store) {
      const records = idempotencyRecords(store.db);
      const request = { scope: "POST /x", key: "k", fingerprint: "f" };
      const now = Date.now();
      assert.deepEqual(await records.claimIdempotencyKey(request, now), { state: "new" });
      assert.deepEqual(await records.claimIdempotencyKey(request, now), { state: "running" });
      assert.deepEqual(
        await records.claimIdempotencyKey({ ...request, fingerprint: "g" }, now),
        { state: "mismatch" },
      );
      await records.completeIdempotencyKey(request, 201, '{"id":"1"}');
      assert.deepEqual(await records.claimIdempotencyKey(request, now), {
        state: "done",
        status: 201,
        body: '{"id":"1"}',
      });
      // Expired after 24 hours: a new claim.
      assert.deepEqual(
        await records.claimIdempotencyKey(request, now + 25 * 3_600_000),
        { state: "new" },
      );
      await records.releaseIdempotencyKey(request);
      assert.deepEqual(await records.claimIdempotencyKey(request, now), { state: "new" });
    },
  },
  ...deviceCases,
  ...fleetCases,
];

/**
 * Batches covering seqs `1..total` in a scrambled order: every range sent twice (once as part
 * of a longer overlapping range), some adjacent, some after gaps that later batches fill.
 */
export function concurrentBatches(total: number, seed = 7): ReturnType<typeof readingBatch>[] {
  let state = seed;
  const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const batches: ReturnType<typeof readingBatch>[] = [];
  for (let from = 1; from <= total;) {
    const to = Math.min(total, from + 10 + Math.floor(random() * 90));
    batches.push(readingBatch(from, to));
    // An overlapping resend that reaches into the next range.
    const overlapFrom = Math.max(1, from + Math.floor(random() * (to - from)));
    batches.push(readingBatch(overlapFrom, Math.min(total, to + Math.floor(random() * 30))));
    from = to + 1;
  }
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [batches[i], batches[j]] = [batches[j], batches[i]];
  }
  return batches;
}
