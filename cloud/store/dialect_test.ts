import assert from "node:assert/strict";
import type { Kysely } from "kysely";
import { TRANSACTION_ATTEMPTS, writeTransaction } from "./dialect.ts";
import type { CloudDatabase } from "./schema.ts";

/** A database whose transactions fail with the given SQLSTATEs, then succeed. */
function failingDb(codes: string[]): { db: Kysely<CloudDatabase>; attempts: () => number } {
  let attempts = 0;
  const db = {
    transaction: () => ({
      execute: (fn: (tx: unknown) => Promise<unknown>) => {
        const code = codes[attempts++];
        if (code) return Promise.reject(Object.assign(new Error(`failed ${code}`), { code }));
        return fn({});
      },
    }),
  } as unknown as Kysely<CloudDatabase>;
  return { db, attempts: () => attempts };
}

Deno.test("a PostgreSQL transaction that lost a deadlock or a serialization check runs again", async () => {
  const { db, attempts } = failingDb(["40P01", "40001"]);
  assert.equal(await writeTransaction(db, "postgres", () => Promise.resolve("done")), "done");
  assert.equal(attempts(), 3);
});

Deno.test("other errors, SQLite, and a third deadlock in a row are thrown at once", async () => {
  const other = failingDb(["23505"]);
  await assert.rejects(writeTransaction(other.db, "postgres", () => Promise.resolve(1)), /23505/);
  assert.equal(other.attempts(), 1);
  const sqlite = failingDb(["40P01"]);
  await assert.rejects(writeTransaction(sqlite.db, "sqlite", () => Promise.resolve(1)), /40P01/);
  assert.equal(sqlite.attempts(), 1);
  const always = failingDb(Array(TRANSACTION_ATTEMPTS).fill("40P01"));
  await assert.rejects(writeTransaction(always.db, "postgres", () => Promise.resolve(1)), /40P01/);
  assert.equal(always.attempts(), TRANSACTION_ATTEMPTS);
});
