// Frozen: never edit a released migration; add a new one.
// deno-lint-ignore-file no-explicit-any
import { type Kysely, sql } from "kysely";

/** Readings, events, the transactional outbox and the sync state. */
export async function up(db: Kysely<any>): Promise<void> {
  // The outbox: one row per record to send; AUTOINCREMENT keeps seq monotonic after prunes.
  await sql`CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
  )`.execute(db);
  // A reading's seq is the seq of its outbox record; it doubles as the row id.
  await sql`CREATE TABLE readings (
    seq INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL
  )`.execute(db);
  await sql`CREATE INDEX readings_sensor_ts ON readings (sensor, ts)`.execute(db);
  await sql`CREATE INDEX readings_ts ON readings (ts)`.execute(db);
  await sql`CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT,
    created_at INTEGER NOT NULL
  )`.execute(db);
  await sql`CREATE INDEX events_created_at ON events (created_at)`.execute(db);
  await sql`CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["sync_state", "events", "readings", "outbox"]) {
    await db.schema.dropTable(table).execute();
  }
}
