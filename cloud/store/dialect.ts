/**
 * What differs between the cloud store's two SQL dialects, kept in one place: locking a
 * device row for a read-modify-write, and retrying a PostgreSQL transaction that lost a
 * deadlock. Everything else is portable Kysely.
 * @module
 */
import type { Kysely, Transaction } from "kysely";
import type { CloudDatabase } from "./schema.ts";

/** The SQL dialect a cloud store runs on. */
export type StoreDialect = "sqlite" | "postgres";

/**
 * Selects one device row inside a write transaction so that reading and then updating it
 * loses no concurrent update (two cloud replicas may ingest the same device at once).
 *
 * On PostgreSQL the row is locked `FOR NO KEY UPDATE` until the transaction ends: a second
 * transaction waits here and then reads the committed row. (`NO KEY` still lets other
 * transactions insert rows that reference the device.) On SQLite the statement is a plain
 * select: a write transaction is already exclusive and SQLite has no row locks.
 */
export function selectDeviceForUpdate(
  tx: Transaction<CloudDatabase>,
  dialect: StoreDialect,
  deviceId: string,
) {
  const query = tx.selectFrom("devices").where("id", "=", deviceId);
  return dialect === "postgres" ? query.forNoKeyUpdate() : query;
}

/** SQLSTATEs after which PostgreSQL rolled back and the same transaction may simply rerun. */
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01"]); // serialization failure, deadlock

/** Attempts of {@link writeTransaction} before a retryable failure is thrown. */
export const TRANSACTION_ATTEMPTS = 3;

/**
 * Runs `fn` in one transaction. On PostgreSQL a transaction chosen as a deadlock victim (or
 * failing serialization) is rolled back whole and run again, up to
 * {@link TRANSACTION_ATTEMPTS} times; `fn` must therefore have no effect outside the database.
 */
export async function writeTransaction<T>(
  db: Kysely<CloudDatabase>,
  dialect: StoreDialect,
  fn: (tx: Transaction<CloudDatabase>) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const retryable = dialect === "postgres" && typeof code === "string" &&
        RETRYABLE_SQLSTATES.has(code);
      if (!retryable || attempt >= TRANSACTION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}
