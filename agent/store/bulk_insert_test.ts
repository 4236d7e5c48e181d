import assert from "node:assert/strict";
import { sql } from "kysely";
import { openSqlite, transact } from "@outpost/platform/sqlite";
import { BULK_CHUNK_ROWS, BulkInserter, chunkSizes } from "./bulk_insert.ts";

Deno.test("chunkSizes covers every row with full chunks and powers of two", () => {
  assert.deepEqual(chunkSizes(0), []);
  assert.deepEqual(chunkSizes(1), [1]);
  assert.deepEqual(chunkSizes(7), [4, 2, 1]);
  assert.deepEqual(chunkSizes(1100), [512, 512, 64, 8, 4]);
  for (const rows of [0, 1, 2, 3, 255, 511, 512, 513, 1023, 10_000]) {
    const sizes = chunkSizes(rows);
    assert.equal(sizes.reduce((a, b) => a + b, 0), rows, `rows ${rows}`);
    assert.ok(sizes.every((size) => size <= BULK_CHUNK_ROWS));
    // At most one statement shape per power of two below the chunk: the cache stays small.
    const remainder = sizes.filter((size) => size < BULK_CHUNK_ROWS);
    assert.equal(new Set(remainder).size, remainder.length, `rows ${rows}`);
  }
});

async function withTable(
  fn: (handle: ReturnType<typeof openSqlite<{ t: { a: number; b: string } }>>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-bulk-" });
  const handle = openSqlite<{ t: { a: number; b: string } }>(`${dir}/t.db`);
  try {
    await sql`CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)`.execute(handle.db);
    await fn(handle);
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("BulkInserter writes every row in order, with exact values, for odd sizes", async () => {
  await withTable(async (handle) => {
    const inserter = new BulkInserter(handle.raw, "t", ["a", "b"]);
    let next = 1;
    for (const rows of [1, 3, 512, 777]) {
      const values: unknown[] = [];
      for (let i = 0; i < rows; i++, next++) values.push(next, `v${next}\u2028"'`);
      await transact(handle.db, () => Promise.resolve(inserter.insert(values)));
    }
    const stored = await handle.db.selectFrom("t").selectAll().orderBy("a").execute();
    assert.equal(stored.length, 1 + 3 + 512 + 777);
    stored.forEach((row, i) => assert.deepEqual(row, { a: i + 1, b: `v${i + 1}\u2028"'` }));
    assert.throws(() => inserter.insert([1, "x", 2]), /not a whole number of rows/);
  });
});

Deno.test("BulkInserter's rows roll back with the transaction they ran in", async () => {
  await withTable(async (handle) => {
    const inserter = new BulkInserter(handle.raw, "t", ["a", "b"]);
    await assert.rejects(
      transact(handle.db, async (tx) => {
        inserter.insert(Array.from({ length: 600 }, (_, i) => [i + 1, "x"]).flat());
        await sql`SELECT 1`.execute(tx);
        inserter.insert([5, "duplicate key"]); // fails: the whole transaction goes
      }),
      /UNIQUE constraint failed/,
    );
    const count = await handle.db.selectFrom("t").select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
  });
});
