import assert from "node:assert/strict";
import { pragmaValue } from "@outpost/platform/sqlite";
import { enrollForTest, readingBatch, withStore } from "../testing/fixtures.ts";
import { openCloudStore } from "./open.ts";
import { migrationCases, storeCases } from "../testing/store_cases.ts";

// The behaviour shared with PostgreSQL (tests/system/postgres_test.ts runs the same cases).
for (const { name, run } of migrationCases) {
  Deno.test(name, async () => {
    const dir = await Deno.makeTempDir({ prefix: "outpost-cloud-" });
    try {
      await run({ kind: "sqlite", path: `${dir}/nested/cloud.db` });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
for (const { name, run } of storeCases) {
  Deno.test(name, () => withStore((store) => run(store)));
}

// libSQL only.
Deno.test("the libSQL file runs in WAL mode with synchronous = FULL", async () => {
  await withStore(async (_store, opened, dir) => {
    const reopened = await openCloudStore({ kind: "sqlite", path: `${dir}/cloud.db` });
    try {
      const raw = (reopened.handle as unknown as { raw: Parameters<typeof pragmaValue>[0] }).raw;
      assert.equal(reopened.dialect, "sqlite");
      assert.equal(pragmaValue(raw, "journal_mode"), "wal");
      assert.equal(pragmaValue(raw, "synchronous"), 2, "synchronous = FULL");
    } finally {
      await reopened.handle.close();
    }
    assert.equal(opened.dialect, "sqlite");
  });
});

Deno.test("a batch that fails halfway (disk full) leaves nothing stored and the ack where it was", async () => {
  await withStore(async (store, opened) => {
    await enrollForTest(store, "pi-1");
    await store.commitBatch("pi-1", readingBatch(1, 2));
    const raw = (opened.handle as unknown as { raw: Parameters<typeof pragmaValue>[0] }).raw;
    const pages = Number(pragmaValue(raw, "page_count"));
    raw.exec(`PRAGMA max_page_count = ${pages + 2}`);
    await assert.rejects(store.commitBatch("pi-1", readingBatch(3, 1000)), /full/);
    raw.exec("PRAGMA max_page_count = 1073741823");
    const device = await store.getDevice("pi-1");
    assert.equal(device?.stats.readings, 2);
    assert.equal(device?.ackedSeq, 2);
    assert.equal((await store.commitBatch("pi-1", readingBatch(3, 1000))).ackedSeq, 1000);
  });
});
