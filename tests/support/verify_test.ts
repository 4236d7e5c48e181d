import assert from "node:assert/strict";
import { openCloudStore } from "@outpost/cloud/store/open";
import { enrollForTest, readingBatch } from "@outpost/cloud/testing/fixtures";
import { cloudCounterMismatches } from "./verify.ts";

Deno.test("cloudCounterMismatches names a device whose row counters differ from count(*)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "outpost-verify-" });
  const opened = await openCloudStore({ kind: "sqlite", path: `${dir}/cloud.db` });
  try {
    await enrollForTest(opened.store, "pi-1");
    await enrollForTest(opened.store, "pi-2");
    await opened.store.commitBatch("pi-1", readingBatch(1, 10));
    await opened.store.commitBatch("pi-1", readingBatch(5, 12));
    assert.deepEqual(cloudCounterMismatches(dir), []);
    await opened.store.db.updateTable("devices").set({ readings_count: 3 })
      .where("id", "=", "pi-2").execute();
    assert.deepEqual(cloudCounterMismatches(dir), [
      "pi-2: counters 3 readings, 0 events; stored 0, 0",
    ]);
  } finally {
    await opened.handle.close();
    await Deno.remove(dir, { recursive: true });
  }
});
