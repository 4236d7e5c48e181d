// Frozen: never edit a released migration; add a new one.
// deno-lint-ignore-file no-explicit-any
import { type Kysely, sql } from "kysely";

/** Commands already run, so a redelivered command id runs once. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE commands_seen (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at INTEGER NOT NULL
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("commands_seen").execute();
}
