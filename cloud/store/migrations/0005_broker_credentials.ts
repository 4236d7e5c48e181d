// Frozen: never edit a released migration; add a new one.
// Portable: schema builder and portable types only, the same on libSQL and PostgreSQL.
// deno-lint-ignore-file no-explicit-any
import type { Kysely } from "kysely";

/**
 * Broker credentials a backend mints rather than stores (the NATS JWT backend, issue 19): per
 * device, the issue time of its newest credential and the time through which its credentials
 * are revoked. No foreign key: a deleted device's revocation must outlive its row.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable("broker_credentials")
    .addColumn("device_id", "text", (col) => col.primaryKey())
    .addColumn("issued_at", "bigint", (col) => col.notNull())
    .addColumn("revoked_through", "bigint")
    .execute();
}
