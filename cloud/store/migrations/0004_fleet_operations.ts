// Frozen: never edit a released migration; add a new one.
// Portable: the schema builder, portable types and plain SQL both dialects run unchanged.
// deno-lint-ignore-file no-explicit-any
import { type Kysely, sql } from "kysely";

/** Rows per backfill INSERT of labels (3 bind parameters per row, far below both limits). */
const LABEL_CHUNK = 1000;

/**
 * Fleet operations (issue 14): labels as rows for selectors, per-device row counters, the
 * outcome of each desired version per device, pinned desired keys, rollouts (waves and targets)
 * and jobs (commands carry their job).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Counters kept by the ingest in the batch's transaction, instead of count(*) per page view.
  await db.schema.alterTable("devices")
    .addColumn("readings_count", "bigint", (col) => col.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("devices")
    .addColumn("events_count", "bigint", (col) => col.notNull().defaultTo(0)).execute();
  // Since when an online device is online (apply timeouts count from here).
  await db.schema.alterTable("devices").addColumn("online_since", "bigint").execute();
  // JSON {key: ms}: when a per-device PUT last set each desired key (it wins over rollouts).
  await db.schema.alterTable("devices")
    .addColumn("desired_pins", "text", (col) => col.notNull().defaultTo("{}")).execute();
  await sql`UPDATE devices SET
    readings_count = (SELECT count(*) FROM readings WHERE readings.device_id = devices.id),
    events_count = (SELECT count(*) FROM events WHERE events.device_id = devices.id)`
    .execute(db);

  // One row per label: a selector becomes EXISTS / NOT EXISTS probes of (key, value, device).
  await db.schema.createTable("device_labels")
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("key", "text", (col) => col.notNull())
    .addColumn("value", "text", (col) => col.notNull())
    .addPrimaryKeyConstraint("device_labels_pk", ["device_id", "key"])
    .execute();
  await db.schema.createIndex("device_labels_key_value").on("device_labels")
    .columns(["key", "value", "device_id"]).execute();
  let after = "";
  for (;;) {
    const devices = await db.selectFrom("devices").select(["id", "labels"])
      .where("id", ">", after).where("labels", "!=", "{}").orderBy("id").limit(LABEL_CHUNK)
      .execute();
    if (devices.length === 0) break;
    const rows = devices.flatMap((device: { id: string; labels: string }) =>
      Object.entries(JSON.parse(device.labels) as Record<string, string>)
        .map(([key, value]) => ({ device_id: device.id, key, value: String(value) }))
    );
    for (let i = 0; i < rows.length; i += LABEL_CHUNK) {
      await db.insertInto("device_labels").values(rows.slice(i, i + LABEL_CHUNK)).execute();
    }
    after = devices[devices.length - 1].id;
  }

  // What each device answered to each desired version (agents report applied or failed).
  await db.schema.createTable("desired_reports")
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("version", "integer", (col) => col.notNull())
    .addColumn("outcome", "text", (col) => col.notNull())
    .addColumn("reason", "text")
    .addColumn("reported_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("desired_reports_pk", ["device_id", "version"])
    .execute();

  await db.schema.createTable("rollouts")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("kind", "text", (col) => col.notNull())
    .addColumn("selector", "text", (col) => col.notNull())
    .addColumn("patch", "text", (col) => col.notNull())
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("failure_threshold_percent", "double precision", (col) => col.notNull())
    .addColumn("apply_timeout_seconds", "integer", (col) => col.notNull())
    .addColumn("targeted", "integer", (col) => col.notNull())
    .addColumn("rollback_of", "text")
    .addColumn("rolled_back_by", "text")
    .addColumn("reason", "text")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .addColumn("finished_at", "bigint")
    .execute();
  await db.schema.createIndex("rollouts_created").on("rollouts").columns(["created_at", "id"])
    .execute();
  await db.schema.createIndex("rollouts_state").on("rollouts").column("state").execute();

  await db.schema.createTable("rollout_waves")
    .addColumn(
      "rollout_id",
      "text",
      (col) => col.notNull().references("rollouts.id").onDelete("cascade"),
    )
    .addColumn("wave", "integer", (col) => col.notNull())
    .addColumn("percent", "double precision", (col) => col.notNull())
    .addColumn("bake_seconds", "integer", (col) => col.notNull())
    .addColumn("size", "integer", (col) => col.notNull())
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("started_at", "bigint")
    .addColumn("answered_at", "bigint")
    .addColumn("completed_at", "bigint")
    .addPrimaryKeyConstraint("rollout_waves_pk", ["rollout_id", "wave"])
    .execute();

  await db.schema.createTable("rollout_targets")
    .addColumn(
      "rollout_id",
      "text",
      (col) => col.notNull().references("rollouts.id").onDelete("cascade"),
    )
    .addColumn(
      "device_id",
      "text",
      (col) => col.notNull().references("devices.id").onDelete("cascade"),
    )
    .addColumn("wave", "integer", (col) => col.notNull())
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("version", "integer")
    .addColumn("changes", "text")
    .addColumn("restore", "text")
    .addColumn("reason", "text")
    .addColumn("sent_at", "bigint")
    .addColumn("nudged_at", "bigint")
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("rollout_targets_pk", ["rollout_id", "device_id"])
    .execute();
  await db.schema.createIndex("rollout_targets_wave_state").on("rollout_targets")
    .columns(["rollout_id", "wave", "state"]).execute();
  await db.schema.createIndex("rollout_targets_device_state").on("rollout_targets")
    .columns(["device_id", "state"]).execute();

  await db.schema.createTable("jobs")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("selector", "text", (col) => col.notNull())
    .addColumn("command_name", "text", (col) => col.notNull())
    .addColumn("args", "text")
    .addColumn("rate_per_minute", "integer")
    .addColumn("state", "text", (col) => col.notNull())
    .addColumn("targeted", "integer", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .addColumn("finished_at", "bigint")
    .execute();
  await db.schema.createIndex("jobs_created").on("jobs").columns(["created_at", "id"]).execute();
  await db.schema.createIndex("jobs_state").on("jobs").column("state").execute();

  await db.schema.alterTable("commands").addColumn("job_id", "text").execute();
  await db.schema.createIndex("commands_job_status").on("commands")
    .columns(["job_id", "status", "device_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("commands_job_status").execute();
  await db.schema.alterTable("commands").dropColumn("job_id").execute();
  for (
    const table of [
      "jobs",
      "rollout_targets",
      "rollout_waves",
      "rollouts",
      "desired_reports",
      "device_labels",
    ]
  ) {
    await db.schema.dropTable(table).execute();
  }
  for (const column of ["desired_pins", "online_since", "events_count", "readings_count"]) {
    await db.schema.alterTable("devices").dropColumn(column).execute();
  }
}
