// Frozen: never edit a released migration; add a new one.
// Portable: schema builder and portable types only, the same on libSQL and PostgreSQL.
// deno-lint-ignore-file no-explicit-any
import type { Kysely } from "kysely";

/**
 * Device identity and lifecycle (issue 15): a device's status and the hash of its device
 * secret; scoped, revocable enrollment tokens; enrollment requests waiting for an operator;
 * and the Idempotency-Key records of the API's POSTs.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("devices")
    .addColumn("status", "text", (col) => col.notNull().defaultTo("active")).execute();
  await db.schema.alterTable("devices").addColumn("status_changed_at", "bigint").execute();
  await db.schema.alterTable("devices").addColumn("secret_hash", "text").execute();
  await db.schema.alterTable("devices").addColumn("token_id", "text").execute();

  await db.schema.createTable("enrollment_tokens")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("token_hash", "text", (col) => col.notNull().unique())
    .addColumn("labels", "text", (col) => col.notNull().defaultTo("{}"))
    .addColumn("expires_at", "bigint")
    .addColumn("max_uses", "integer")
    .addColumn("uses", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("last_used_at", "bigint")
    .addColumn("revoked_at", "bigint")
    .execute();

  await db.schema.createTable("enrollment_requests")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("secret_hash", "text", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("token_id", "text")
    .addColumn("labels", "text", (col) => col.notNull().defaultTo("{}"))
    .addColumn("arch", "text")
    .addColumn("version", "text")
    .addColumn("address", "text")
    .addColumn("attempts", "integer", (col) => col.notNull().defaultTo(1))
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("last_attempt_at", "bigint", (col) => col.notNull())
    .addColumn("decided_at", "bigint")
    .execute();
  // One request per device and secret: a device retrying asks again, it does not ask twice.
  await db.schema.createIndex("enrollment_requests_device_secret").on("enrollment_requests")
    .columns(["device_id", "secret_hash"]).unique().execute();
  await db.schema.createIndex("enrollment_requests_status").on("enrollment_requests")
    .columns(["status", "last_attempt_at"]).execute();

  await db.schema.createTable("idempotency_keys")
    .addColumn("scope", "text", (col) => col.notNull())
    .addColumn("key", "text", (col) => col.notNull())
    .addColumn("fingerprint", "text", (col) => col.notNull())
    .addColumn("status", "integer")
    .addColumn("response", "text")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("idempotency_keys_pk", ["scope", "key"])
    .execute();
  await db.schema.createIndex("idempotency_keys_created").on("idempotency_keys")
    .column("created_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("idempotency_keys").execute();
  await db.schema.dropTable("enrollment_requests").execute();
  await db.schema.dropTable("enrollment_tokens").execute();
  for (const column of ["token_id", "secret_hash", "status_changed_at", "status"]) {
    await db.schema.alterTable("devices").dropColumn(column).execute();
  }
}
