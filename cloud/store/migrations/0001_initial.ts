// Frozen: never edit a released migration; add a new one.
// Written with the schema builder and portable types only, so the PostgreSQL dialect runs it
// unchanged.
// deno-lint-ignore-file no-explicit-any
import type { Kysely } from "kysely";

/** Devices, their readings and events, commands, and the received seq ranges. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable("devices")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("password_hash", "text")
    .addColumn("labels", "text", (col) => col.notNull().defaultTo("{}"))
    .addColumn("arch", "text")
    .addColumn("version", "text")
    .addColumn("enrolled_at", "bigint", (col) => col.notNull())
    .addColumn("online", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("last_seen", "bigint")
    .addColumn("acked_seq", "bigint", (col) => col.notNull().defaultTo(0))
    .addColumn("last_seq", "bigint", (col) => col.notNull().defaultTo(0))
    .addColumn("desired", "text", (col) => col.notNull().defaultTo("{}"))
    .addColumn("desired_version", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("applied_version", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("reported", "text", (col) => col.notNull().defaultTo("{}"))
    .addColumn("reported_seq", "bigint", (col) => col.notNull().defaultTo(0))
    .execute();

  // The primary key (device_id, seq) is what makes ingest idempotent.
  await db.schema.createTable("readings")
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("seq", "bigint", (col) => col.notNull())
    .addColumn("sensor", "text", (col) => col.notNull())
    .addColumn("value", "double precision", (col) => col.notNull())
    .addColumn("unit", "text", (col) => col.notNull().defaultTo(""))
    .addColumn("device_ts", "bigint", (col) => col.notNull())
    .addColumn("received_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("readings_pk", ["device_id", "seq"])
    .execute();
  await db.schema.createIndex("readings_device_ts").on("readings")
    .columns(["device_id", "device_ts"]).execute();
  await db.schema.createIndex("readings_device_sensor_ts").on("readings")
    .columns(["device_id", "sensor", "device_ts"]).execute();

  await db.schema.createTable("events")
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("seq", "bigint", (col) => col.notNull())
    .addColumn("id", "text", (col) => col.notNull())
    .addColumn("kind", "text", (col) => col.notNull())
    .addColumn("severity", "text", (col) => col.notNull())
    .addColumn("message", "text", (col) => col.notNull())
    .addColumn("data", "text")
    .addColumn("device_ts", "bigint", (col) => col.notNull())
    .addColumn("received_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("events_pk", ["device_id", "seq"])
    .execute();
  await db.schema.createIndex("events_device_ts").on("events")
    .columns(["device_id", "device_ts"]).execute();
  await db.schema.createIndex("events_ts").on("events").column("device_ts").execute();

  await db.schema.createTable("commands")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("args", "text")
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("result", "text")
    .addColumn("error", "text")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("commands_device_status").on("commands")
    .columns(["device_id", "status"]).execute();

  await db.schema.createTable("received_ranges")
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("from_seq", "bigint", (col) => col.notNull())
    .addColumn("to_seq", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("received_ranges_pk", ["device_id", "from_seq"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["received_ranges", "commands", "events", "readings", "devices"]) {
    await db.schema.dropTable(table).execute();
  }
}
