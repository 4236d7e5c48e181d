// Frozen: never edit a released migration; add a new one.
// Portable: plain B-tree indexes through the schema builder, the same on libSQL and PostgreSQL.
// On PostgreSQL each migration runs in a transaction, so on a large existing `readings` table
// ingest waits while the index builds; `ifNotExists` lets an operator build it beforehand with
// CREATE INDEX CONCURRENTLY (see docs/CLOUD.md, database section).
// deno-lint-ignore-file no-explicit-any
import type { Kysely } from "kysely";

/**
 * Indexes for the fleet-wide queries: the newest readings of every device (and time windows
 * over them) are read by device time without a device filter, and a device's commands are
 * listed newest first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("readings_ts").ifNotExists().on("readings").column("device_ts")
    .execute();
  await db.schema.createIndex("commands_device_created").ifNotExists().on("commands")
    .columns(["device_id", "created_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("commands_device_created").execute();
  await db.schema.dropIndex("readings_ts").execute();
}
