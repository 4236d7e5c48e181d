/**
 * Device-list behaviour shared by both dialects (part of `storeCases`): labels as rows,
 * selectors evaluated in SQL, keyset pagination under concurrent enrollment, counts, the
 * per-device row counters and the desired-state answers.
 * @module
 */
import assert from "node:assert/strict";
import type { Batch, BatchRecord } from "@outpost/protocol";
import { matchesSelector } from "../fleet/selector.ts";
import { CursorError, LAGGING_RECORDS } from "../store/device_query.ts";
import type { CloudStore, DeviceSummary } from "../store/store.ts";
import { enrollForTest, readingBatch } from "./fixtures.ts";
import type { StoreCase } from "./cases.ts";
import { parsed } from "./selectors.ts";

/** Every page of a listing, following `nextCursor`. */
export async function allPages(
  store: CloudStore,
  query: Omit<Parameters<CloudStore["listDevicesPage"]>[0], "cursor">,
): Promise<DeviceSummary[]> {
  const items: DeviceSummary[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await store.listDevicesPage({ ...query, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    if (!page.nextCursor) return items;
    cursor = page.nextCursor;
  }
  throw new Error("the pages never ended");
}

function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** A reported record answering desired `version`. */
export function reportRecord(
  seq: number,
  version: number,
  outcome?: "applied" | "failed",
  reason?: string,
): BatchRecord {
  return {
    seq,
    type: "reported",
    appliedVersion: outcome === "failed" ? version - 1 : version,
    reported: { desiredVersion: version },
    ts: "2026-11-26T10:00:00Z",
    ...(outcome ? { version, outcome } : {}),
    ...(reason ? { reason } : {}),
  };
}

export const deviceCases: StoreCase[] = [
  {
    name: "labels are stored as rows at enrollment and replaced by setLabels",
    async run(store) {
      await store.enrollDevice({ id: "a", passwordHash: null, labels: { site: "berlin" } });
      await store.enrollDevice({ id: "b", passwordHash: null });
      const berlin = parsed("site=berlin");
      assert.deepEqual((await allPages(store, { limit: 10, selector: berlin })).map((d) => d.id), [
        "a",
      ]);
      assert.equal(await store.setLabels("b", { site: "berlin", role: "gw" }), true);
      assert.equal(await store.setLabels("ghost", { site: "x" }), false);
      assert.deepEqual((await store.getDevice("b"))?.labels, { site: "berlin", role: "gw" });
      assert.deepEqual(
        (await allPages(store, { limit: 10, selector: berlin })).map((d) => d.id),
        ["a", "b"],
      );
      // Re-enrolling with labels replaces them; without labels keeps them.
      await store.enrollDevice({ id: "a", passwordHash: null, labels: { site: "paris" } });
      await store.enrollDevice({ id: "b", passwordHash: null });
      assert.deepEqual(
        (await allPages(store, { limit: 10, selector: berlin })).map((d) => d.id),
        ["b"],
      );
      const rows = await store.db.selectFrom("device_labels").selectAll().orderBy("device_id")
        .orderBy("key").execute();
      assert.deepEqual(rows, [
        { device_id: "a", key: "site", value: "paris" },
        { device_id: "b", key: "role", value: "gw" },
        { device_id: "b", key: "site", value: "berlin" },
      ]);
    },
  },
  {
    name: "every selector operator gives in SQL what the Kubernetes rules give",
    async run(store) {
      const next = random(11);
      const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
      const labelsOf = new Map<string, Record<string, string>>();
      for (let i = 0; i < 120; i++) {
        const labels: Record<string, string> = {};
        if (next() < 0.8) labels.site = pick(["berlin", "paris", "oslo"]);
        if (next() < 0.6) labels.role = pick(["gateway", "sensor"]);
        if (next() < 0.5) labels.tier = pick(["a", "b", "c", ""]);
        if (next() < 0.1) labels.decommissioned = "";
        if (next() < 0.2) labels["example.com/zone"] = pick(["eu-1", "eu-2"]);
        const id = `dev-${String(i).padStart(3, "0")}`;
        labelsOf.set(id, labels);
        await store.enrollDevice({ id, passwordHash: null, labels });
      }
      for (
        const text of [
          "",
          "site=berlin",
          "site==paris",
          "site!=berlin",
          "role",
          "!role",
          "tier in (a,b)",
          "tier notin (a,)",
          "tier=",
          "site=berlin,role!=gateway,tier in (a,b),!decommissioned",
          "example.com/zone in (eu-1),site",
          "site=nowhere",
        ]
      ) {
        const selector = parsed(text);
        const expected = [...labelsOf].filter(([, labels]) => matchesSelector(selector, labels))
          .map(([id]) => id);
        const listed = await allPages(store, { limit: 17, selector });
        assert.deepEqual(listed.map((d) => d.id), expected, text);
        assert.equal((await store.countDevices({ selector })).total, expected.length, text);
      }
    },
  },
  {
    name: "pages by id skip and repeat no device while others enroll concurrently",
    async run(store) {
      for (let i = 0; i < 150; i++) {
        await store.enrollDevice({
          id: `d-${String(i * 2).padStart(4, "0")}`,
          passwordHash: null,
          labels: { fleet: "x" },
        });
      }
      const before = (await allPages(store, { limit: 1000 })).map((d) => d.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let enrolled = 0;
      const enrolling = (async () => {
        // Odd ids land between the pages being read; some before, some after the cursor.
        for (let i = 0; i < 150; i++) {
          await store.enrollDevice({
            id: `d-${String(i * 2 + 1).padStart(4, "0")}`,
            passwordHash: null,
            labels: { fleet: "x" },
          });
          enrolled++;
        }
      })();
      for (;;) {
        const page = await store.listDevicesPage({
          limit: 9,
          selector: parsed("fleet=x"),
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((d) => d.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      await enrolling;
      assert.equal(enrolled, 150);
      assert.equal(new Set(seen).size, seen.length, "a device was listed twice");
      for (const id of before) assert.ok(seen.includes(id), `${id} was skipped`);
      assert.deepEqual(seen, [...seen].sort(), "pages are in id order");
    },
  },
  {
    name: "the list filters by id prefix and state and counts every match, whatever the page",
    async run(store) {
      for (const id of ["pi-1", "pi-2", "pi-10", "pix", "p_i", "jetson-1"]) {
        await store.enrollDevice({ id, passwordHash: null, labels: { kind: id.slice(0, 2) } });
      }
      await store.applyStatus("pi-1", { online: true, lastSeq: 10 });
      await store.applyStatus("pi-10", { online: true, lastSeq: LAGGING_RECORDS + 5 });
      await store.applyStatus("jetson-1", { online: false, lastSeq: LAGGING_RECORDS });
      const ids = async (query: Parameters<CloudStore["listDevicesPage"]>[0]) =>
        (await store.listDevicesPage(query)).items.map((d) => d.id);
      assert.deepEqual(await ids({ limit: 10, q: "pi-" }), ["pi-1", "pi-10", "pi-2"]);
      assert.deepEqual(await ids({ limit: 10, q: "pi-1" }), ["pi-1", "pi-10"]);
      assert.deepEqual(await ids({ limit: 10, q: "p_" }), ["p_i"], "_ is not a wildcard");
      assert.deepEqual(await ids({ limit: 10, q: "PI" }), [], "the prefix is case-sensitive");
      assert.deepEqual(await ids({ limit: 10, state: "online" }), ["pi-1", "pi-10"]);
      assert.deepEqual(await ids({ limit: 10, state: "lagging" }), ["jetson-1", "pi-10"]);
      assert.deepEqual(await ids({ limit: 10, state: "offline", q: "pi" }), ["pi-2", "pix"]);
      const page = await store.listDevicesPage({ limit: 1, q: "pi", state: "offline" });
      assert.deepEqual(page.items.map((d) => d.id), ["pi-2"]);
      // Counts cover the selector and q, not the state tab nor the page.
      assert.deepEqual(page.counts, { total: 4, online: 2, offline: 2, lagging: 1 });
      assert.ok(page.nextCursor);
      const last = await store.listDevicesPage({
        limit: 1,
        q: "pi",
        state: "offline",
        cursor: page.nextCursor,
      });
      assert.deepEqual(last.items.map((d) => d.id), ["pix"]);
      assert.equal(last.nextCursor, null);
      await assert.rejects(
        store.listDevicesPage({ limit: 5, cursor: "bm90LWEtY3Vyc29y" }),
        CursorError,
      );
      await assert.rejects(store.listDevicesPage({ limit: 5, cursor: "%%%" }), CursorError);
    },
  },
  {
    name:
      "the per-device row counters equal count(*) after resends, duplicates, gaps and concurrent commits",
    async run(store) {
      const devices = ["c-1", "c-2", "c-3"];
      for (const id of devices) await enrollForTest(store, id);
      const next = random(5);
      const commits: Promise<unknown>[] = [];
      for (const id of devices) {
        // Readings and events mixed, every range sent at least twice, in a scrambled order.
        const batches: Batch[] = [];
        for (let from = 1; from <= 600;) {
          const to = Math.min(600, from + 5 + Math.floor(next() * 40));
          const records: BatchRecord[] = [];
          for (let seq = from; seq <= to; seq++) {
            records.push(
              seq % 7 === 0
                ? {
                  seq,
                  type: "event",
                  id: `${id}-${seq}`,
                  kind: "k",
                  severity: "info",
                  message: "m",
                  ts: "2026-11-26T10:00:00Z",
                }
                : readingBatch(seq, seq).records[0],
            );
          }
          batches.push({ from, to, records });
          if (next() < 0.7) batches.push({ from, to, records });
          from = to + 1;
        }
        for (let i = batches.length - 1; i > 0; i--) {
          const j = Math.floor(next() * (i + 1));
          [batches[i], batches[j]] = [batches[j], batches[i]];
        }
        for (const batch of batches) commits.push(store.commitBatch(id, batch));
      }
      await Promise.all(commits);
      // A resend below the ack (the agent's resync) stores and counts nothing.
      for (const id of devices) {
        assert.equal((await store.commitBatch(id, readingBatch(1, 40))).duplicate, true);
      }
      for (const id of devices) {
        const device = await store.getDevice(id);
        const [readings, events] = await Promise.all([
          store.db.selectFrom("readings").select((eb) => eb.fn.countAll<number | string>().as("n"))
            .where("device_id", "=", id).executeTakeFirstOrThrow(),
          store.db.selectFrom("events").select((eb) => eb.fn.countAll<number | string>().as("n"))
            .where("device_id", "=", id).executeTakeFirstOrThrow(),
        ]);
        assert.equal(device?.ackedSeq, 600, id);
        assert.deepEqual(device?.stats, { readings: Number(readings.n), events: Number(events.n) });
        assert.deepEqual(device?.stats, { readings: 515, events: 85 });
      }
    },
  },
  {
    name:
      "each desired version's answer is recorded once per device, and an old agent's report means applied",
    async run(store) {
      await enrollForTest(store, "pi-1");
      await store.commitBatch("pi-1", {
        from: 1,
        to: 3,
        records: [
          reportRecord(1, 1),
          reportRecord(2, 2, "failed", "retentionDays must be an integer from 1 to 3650"),
          reportRecord(3, 3, "applied"),
        ],
      });
      // A resend changes nothing; a later, different answer to a version does not win.
      await store.commitBatch("pi-1", {
        from: 1,
        to: 3,
        records: [reportRecord(1, 1), reportRecord(2, 2), reportRecord(3, 3)],
      });
      await store.commitBatch("pi-1", { from: 4, to: 4, records: [reportRecord(4, 2, "applied")] });
      const device = await store.getDevice("pi-1");
      assert.equal(device?.appliedVersion, 3);
      assert.deepEqual(
        device?.desiredReports.map(({ reportedAt: _at, ...report }) => report),
        [
          { version: 3, outcome: "applied" },
          {
            version: 2,
            outcome: "failed",
            reason: "retentionDays must be an integer from 1 to 3650",
          },
          { version: 1, outcome: "applied" },
        ],
      );
    },
  },
];
