/**
 * Committing one `up/batch` in one transaction: records stored idempotently on (device, seq),
 * reported state and command results applied, and the contiguous ack advanced.
 * @module
 */
import type { Kysely, Transaction } from "kysely";
import type { Batch, BatchRecord } from "../../agent/protocol/messages.ts";
import type {
  CommandResultRecord,
  EventRecord,
  ReadingRecord,
  ReportedRecord,
} from "../../agent/protocol/records.ts";
import { selectDeviceForUpdate, type StoreDialect, writeTransaction } from "./dialect.ts";
import type { CloudDatabase } from "./schema.ts";

/** Rows per INSERT statement at most: multi-row statements are ~10x faster than one per row. */
export const INSERT_CHUNK = 1000;

/**
 * Bind parameters per statement at most: SQLite's default limit (32,766), below PostgreSQL's
 * (65,535), so one chunking rule fits both dialects.
 */
export const MAX_BIND_PARAMETERS = 32_766;

/** Rows per multi-row INSERT of a table with `columns` columns. */
export function chunkRows(columns: number): number {
  return Math.max(1, Math.min(INSERT_CHUNK, Math.floor(MAX_BIND_PARAMETERS / columns)));
}

/** What committing a batch did. */
export interface BatchOutcome {
  /** False when the device is not enrolled; then nothing was stored. */
  known: boolean;
  /** The contiguous high-water mark after this batch (what `down/ack` carries). */
  ackedSeq: number;
  /** The highest seq known for the device after this batch. */
  lastSeq: number;
  /** True when every seq of the batch was already stored (a resend); nothing was written. */
  duplicate: boolean;
  /** Rows newly inserted (duplicates of stored seqs are not counted). */
  inserted: { readings: number; events: number };
  /** Command results that named a command this device does not have. */
  unknownCommands: string[];
}

type Tx = Transaction<CloudDatabase>;
type Seq<T> = T & { seq: number };

/** Columns of an inserted reading row and event row (bind parameters per row). */
const READING_COLUMNS = 7;
const EVENT_COLUMNS = 9;

/** Options of {@link commitBatch}. */
export interface CommitBatchOptions {
  deviceId: string;
  batch: Batch;
  /** Receive time, ms since the epoch. */
  now: number;
  /** The database's dialect (default `sqlite`); PostgreSQL locks the device row. */
  dialect?: StoreDialect;
}

/**
 * Commits a device's batch: everything or nothing. The device row is read and written under
 * a lock (see {@link selectDeviceForUpdate}), so concurrent commits for one device from
 * several cloud replicas serialize and the contiguous ack never loses a range.
 */
export async function commitBatch(
  db: Kysely<CloudDatabase>,
  options: CommitBatchOptions,
): Promise<BatchOutcome> {
  const { deviceId, batch, now } = options;
  const dialect = options.dialect ?? "sqlite";
  return await writeTransaction(db, dialect, async (tx) => {
    const device = await selectDeviceForUpdate(tx, dialect, deviceId)
      .select(["acked_seq", "last_seq", "reported_seq", "applied_version"])
      .executeTakeFirst();
    if (!device) {
      return {
        known: false,
        ackedSeq: 0,
        lastSeq: 0,
        duplicate: false,
        inserted: { readings: 0, events: 0 },
        unknownCommands: [],
      };
    }
    const ackedBefore = Number(device.acked_seq);
    const lastSeq = Math.max(Number(device.last_seq), batch.to);
    if (batch.to <= ackedBefore) {
      // A resend of what is already stored: every seq up to acked_seq is in the tables.
      await tx.updateTable("devices").set({ last_seen: now, last_seq: lastSeq })
        .where("id", "=", deviceId).execute();
      return {
        known: true,
        ackedSeq: ackedBefore,
        lastSeq,
        duplicate: true,
        inserted: { readings: 0, events: 0 },
        unknownCommands: [],
      };
    }

    const readings: Seq<ReadingRecord>[] = [];
    const events: Seq<EventRecord>[] = [];
    const reported: Seq<ReportedRecord>[] = [];
    const results: Seq<CommandResultRecord>[] = [];
    for (const record of batch.records) sortRecord(record, { readings, events, reported, results });

    const inserted = {
      readings: await insertReadings(tx, deviceId, readings, now),
      events: await insertEvents(tx, deviceId, events, now),
    };
    await applyReported(tx, deviceId, reported, {
      reportedSeq: Number(device.reported_seq),
      appliedVersion: device.applied_version,
    });
    const unknownCommands = await applyCommandResults(tx, deviceId, results, now);
    const ackedSeq = await advanceAck(tx, deviceId, batch, ackedBefore);
    await tx.updateTable("devices")
      .set({ acked_seq: ackedSeq, last_seq: lastSeq, last_seen: now })
      .where("id", "=", deviceId)
      .execute();
    return { known: true, ackedSeq, lastSeq, duplicate: false, inserted, unknownCommands };
  });
}

function sortRecord(
  record: BatchRecord,
  into: {
    readings: Seq<ReadingRecord>[];
    events: Seq<EventRecord>[];
    reported: Seq<ReportedRecord>[];
    results: Seq<CommandResultRecord>[];
  },
): void {
  switch (record.type) {
    case "reading":
      into.readings.push(record);
      break;
    case "event":
      into.events.push(record);
      break;
    case "reported":
      into.reported.push(record);
      break;
    case "command_result":
      into.results.push(record);
      break;
  }
}

async function insertReadings(
  tx: Tx,
  deviceId: string,
  readings: Seq<ReadingRecord>[],
  now: number,
): Promise<number> {
  let inserted = 0;
  const chunk = chunkRows(READING_COLUMNS);
  for (let offset = 0; offset < readings.length; offset += chunk) {
    const rows = readings.slice(offset, offset + chunk).map((reading) => ({
      device_id: deviceId,
      seq: reading.seq,
      sensor: reading.sensor,
      value: reading.value,
      unit: reading.unit,
      device_ts: Date.parse(reading.ts),
      received_at: now,
    }));
    const result = await tx.insertInto("readings").values(rows)
      .onConflict((oc) => oc.columns(["device_id", "seq"]).doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

async function insertEvents(
  tx: Tx,
  deviceId: string,
  events: Seq<EventRecord>[],
  now: number,
): Promise<number> {
  let inserted = 0;
  const chunk = chunkRows(EVENT_COLUMNS);
  for (let offset = 0; offset < events.length; offset += chunk) {
    const rows = events.slice(offset, offset + chunk).map((event) => ({
      device_id: deviceId,
      seq: event.seq,
      id: event.id,
      kind: event.kind,
      severity: event.severity,
      message: event.message,
      data: event.data === undefined ? null : JSON.stringify(event.data),
      device_ts: Date.parse(event.ts),
      received_at: now,
    }));
    const result = await tx.insertInto("events").values(rows)
      .onConflict((oc) => oc.columns(["device_id", "seq"]).doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

/**
 * Device wins for reported state: the record with the highest seq replaces `reported`, and
 * `applied_version` only ever goes up.
 */
async function applyReported(
  tx: Tx,
  deviceId: string,
  reported: Seq<ReportedRecord>[],
  current: { reportedSeq: number; appliedVersion: number },
): Promise<void> {
  const newest = reported.reduce<Seq<ReportedRecord> | undefined>(
    (best, record) => (!best || record.seq > best.seq ? record : best),
    undefined,
  );
  if (!newest) return;
  const applied = Math.max(current.appliedVersion, ...reported.map((r) => r.appliedVersion));
  await tx.updateTable("devices").set({
    applied_version: applied,
    ...(newest.seq > current.reportedSeq
      ? { reported: JSON.stringify(newest.reported), reported_seq: newest.seq }
      : {}),
  }).where("id", "=", deviceId).execute();
}

/**
 * Marks commands succeeded/failed. A command already answered keeps its first answer, so a
 * resent batch changes nothing. Returns the ids this device has no command for.
 */
async function applyCommandResults(
  tx: Tx,
  deviceId: string,
  results: Seq<CommandResultRecord>[],
  now: number,
): Promise<string[]> {
  if (results.length === 0) return [];
  const ids = [...new Set(results.map((result) => result.commandId))];
  const known = new Set(
    (await tx.selectFrom("commands").select("id").where("device_id", "=", deviceId)
      .where("id", "in", ids).execute()).map((row) => row.id),
  );
  for (const result of results) {
    if (!known.has(result.commandId)) continue;
    await tx.updateTable("commands").set({
      status: result.status,
      result: result.result === undefined ? null : JSON.stringify(result.result),
      error: result.error ?? null,
      updated_at: now,
    })
      .where("id", "=", result.commandId)
      .where("device_id", "=", deviceId)
      .where("status", "in", ["queued", "delivered"])
      .execute();
  }
  return ids.filter((id) => !known.has(id));
}

/**
 * Records the batch's range and advances the contiguous prefix over every stored range that
 * touches it; ranges the prefix covers are deleted, ranges after a gap stay until it closes.
 */
async function advanceAck(
  tx: Tx,
  deviceId: string,
  batch: Batch,
  ackedBefore: number,
): Promise<number> {
  await tx.insertInto("received_ranges")
    .values({ device_id: deviceId, from_seq: batch.from, to_seq: batch.to })
    .onConflict((oc) => oc.columns(["device_id", "from_seq"]).doNothing())
    .execute();
  // A resend from the same seq may carry a longer range than the one recorded.
  await tx.updateTable("received_ranges").set({ to_seq: batch.to })
    .where("device_id", "=", deviceId)
    .where("from_seq", "=", batch.from)
    .where("to_seq", "<", batch.to)
    .execute();
  let acked = ackedBefore;
  for (;;) {
    const row = await tx.selectFrom("received_ranges")
      .select((eb) => eb.fn.max("to_seq").as("to"))
      .where("device_id", "=", deviceId)
      .where("from_seq", "<=", acked + 1)
      .executeTakeFirst();
    const reach = row?.to === null || row?.to === undefined ? 0 : Number(row.to);
    if (reach <= acked) break;
    acked = reach;
  }
  await tx.deleteFrom("received_ranges")
    .where("device_id", "=", deviceId)
    .where("to_seq", "<=", acked)
    .execute();
  return acked;
}
