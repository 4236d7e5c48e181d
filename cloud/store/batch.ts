/**
 * Committing one `up/batch` in one transaction: records stored idempotently on (device, seq),
 * reported state and command results applied, and the contiguous ack advanced.
 * @module
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { Batch, BatchRecord } from "@outpost/protocol";
import type {
  CommandResultRecord,
  EventRecord,
  ReadingRecord,
  ReportedRecord,
} from "@outpost/protocol";
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

/** Why a batch of a known device was refused whole (nothing stored). */
export interface BatchRefusal {
  /** `device_inactive`: revoked or decommissioned; `implausible_seq`: `from` too far ahead. */
  reason: "device_inactive" | "implausible_seq";
  message: string;
}

/** What committing a batch did. */
export interface BatchOutcome {
  /** False when the device is not enrolled; then nothing was stored. */
  known: boolean;
  /** Set when the device is known but the batch was refused whole; nothing was stored. */
  refused?: BatchRefusal;
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

/** How a batch's rows are inserted. */
interface InsertMode {
  dialect: StoreDialect;
  /** Known to hold only new seqs: no ON CONFLICT clause (PostgreSQL only). */
  plain: boolean;
}

function conflict(plain: boolean) {
  return plain ? sql`` : sql`ON CONFLICT (device_id, seq) DO NOTHING`;
}

/** Options of {@link commitBatch}. */
export interface CommitBatchOptions {
  deviceId: string;
  batch: Batch;
  /** Receive time, ms since the epoch. */
  now: number;
  /** The database's dialect (default `sqlite`); PostgreSQL locks the device row. */
  dialect?: StoreDialect;
  /**
   * The batch is refused whole when `from` lies more than this beyond the device's acked seq
   * (`OUTPOST_MAX_SEQ_GAP`); default: no bound.
   */
  maxSeqGap?: number;
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
  const dialect = options.dialect ?? "sqlite";
  try {
    return await commitOnce(db, options, dialect, dialect === "postgres");
  } catch (error) {
    // A plain INSERT met a stored seq after all (see `fresh` below): run again, with the
    // conflict check. Only a batch repeating a seq inside itself gets here (ingest rejects
    // those), or a store whose ranges do not tell every stored seq.
    if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
    return await commitOnce(db, options, dialect, false);
  }
}

/** PostgreSQL's SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = "23505";

async function commitOnce(
  db: Kysely<CloudDatabase>,
  options: CommitBatchOptions,
  dialect: StoreDialect,
  plainInsert: boolean,
): Promise<BatchOutcome> {
  const { deviceId, batch, now } = options;
  return await writeTransaction(db, dialect, async (tx) => {
    const device = await selectDeviceForUpdate(tx, dialect, deviceId)
      .select(["acked_seq", "last_seq", "reported_seq", "applied_version", "status"])
      .executeTakeFirst();
    const nothing = { duplicate: false, inserted: { readings: 0, events: 0 }, unknownCommands: [] };
    if (!device || device.status === "deleted") {
      return { known: false, ackedSeq: 0, lastSeq: 0, ...nothing };
    }
    const ackedBefore = Number(device.acked_seq);
    const refuse = (refused: BatchRefusal): BatchOutcome => ({
      known: true,
      refused,
      ackedSeq: ackedBefore,
      lastSeq: Number(device.last_seq),
      ...nothing,
    });
    if (device.status !== "active") {
      return refuse({
        reason: "device_inactive",
        message: `device '${deviceId}' is ${device.status}; nothing it sends is stored`,
      });
    }
    const maxSeqGap = options.maxSeqGap ?? Infinity;
    if (batch.from - ackedBefore - 1 > maxSeqGap) {
      // Stored, such a batch would set last_seq (the lag) to whatever it claims, for good.
      return refuse({
        reason: "implausible_seq",
        message: `batch ${batch.from}..${batch.to} starts ${
          batch.from - ackedBefore - 1
        } seqs beyond the ${ackedBefore} the cloud holds; at most ${maxSeqGap} (OUTPOST_MAX_SEQ_GAP) is accepted`,
      });
    }
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

    const { ackedSeq, fresh } = await advanceAck(tx, deviceId, batch, ackedBefore);
    // Every stored seq above the ack lies in a recorded range, so a batch that starts right
    // after the ack and meets no range holds only new seqs: PostgreSQL then inserts without
    // ON CONFLICT, which spares a speculative insertion per row (~20% of the insert here).
    const insert = { plain: plainInsert && fresh, dialect };
    const inserted = {
      readings: await insertReadings(tx, insert, deviceId, readings, now),
      events: await insertEvents(tx, insert, deviceId, events, now),
    };
    await applyReported(tx, deviceId, reported, {
      reportedSeq: Number(device.reported_seq),
      appliedVersion: device.applied_version,
    });
    await recordOutcomes(tx, deviceId, reported, now);
    const unknownCommands = await applyCommandResults(tx, deviceId, results, now);
    await tx.updateTable("devices")
      .set({
        acked_seq: ackedSeq,
        last_seq: lastSeq,
        last_seen: now,
        // The per-device row counters, in the transaction that inserted the rows: a resend
        // inserts nothing (ON CONFLICT) and adds nothing.
        ...(inserted.readings
          ? { readings_count: sql<number>`readings_count + ${inserted.readings}` }
          : {}),
        ...(inserted.events
          ? { events_count: sql<number>`events_count + ${inserted.events}` }
          : {}),
      })
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
  { plain, dialect }: InsertMode,
  deviceId: string,
  readings: Seq<ReadingRecord>[],
  now: number,
): Promise<number> {
  if (readings.length === 0) return 0;
  if (dialect === "postgres") {
    // One statement with one array parameter per column, whatever the batch size: PostgreSQL
    // parses and plans 7 parameters instead of 7,000 (multi-row VALUES), and pg sends them
    // as 5 array literals. DO NOTHING also skips a seq repeated inside the arrays.
    const seqs: number[] = [];
    const sensors: string[] = [];
    const values: number[] = [];
    const units: string[] = [];
    const times: number[] = [];
    for (const reading of readings) {
      seqs.push(reading.seq);
      sensors.push(reading.sensor);
      values.push(reading.value);
      units.push(reading.unit);
      times.push(Date.parse(reading.ts));
    }
    const result = await sql`
      INSERT INTO readings (device_id, seq, sensor, value, unit, device_ts, received_at)
      SELECT ${deviceId}, r.seq, r.sensor, r.value, r.unit, r.device_ts, ${now}::bigint
      FROM unnest(${seqs}::bigint[], ${sensors}::text[], ${values}::float8[], ${units}::text[],
        ${times}::bigint[]) AS r(seq, sensor, value, unit, device_ts)
      ${conflict(plain)}`.execute(tx);
    return Number(result.numAffectedRows ?? 0);
  }
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
  { plain, dialect }: InsertMode,
  deviceId: string,
  events: Seq<EventRecord>[],
  now: number,
): Promise<number> {
  if (events.length === 0) return 0;
  if (dialect === "postgres") {
    // As for readings: one statement with one array parameter per column.
    const seqs: number[] = [];
    const ids: string[] = [];
    const kinds: string[] = [];
    const severities: string[] = [];
    const messages: string[] = [];
    const data: (string | null)[] = [];
    const times: number[] = [];
    for (const event of events) {
      seqs.push(event.seq);
      ids.push(event.id);
      kinds.push(event.kind);
      severities.push(event.severity);
      messages.push(event.message);
      data.push(event.data === undefined ? null : JSON.stringify(event.data));
      times.push(Date.parse(event.ts));
    }
    const result = await sql`
      INSERT INTO events (device_id, seq, id, kind, severity, message, data, device_ts,
        received_at)
      SELECT ${deviceId}, e.seq, e.id, e.kind, e.severity, e.message, e.data, e.device_ts,
        ${now}::bigint
      FROM unnest(${seqs}::bigint[], ${ids}::text[], ${kinds}::text[], ${severities}::text[],
        ${messages}::text[], ${data}::text[], ${times}::bigint[])
        AS e(seq, id, kind, severity, message, data, device_ts)
      ${conflict(plain)}`.execute(tx);
    return Number(result.numAffectedRows ?? 0);
  }
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
 * Records what the device answered to each desired version (`desired_reports`, the first
 * answer per version wins, so a resend changes nothing) and settles the rollout targets waiting
 * for it: a target is settled by the answer to its version or a later one (a later version
 * keeps the rollout's keys: rollouts merge, and a per-device PUT keeps them, see
 * `fleet/desired_patch.ts`). An agent from before outcomes existed reports only
 * `appliedVersion`: that version was applied.
 */
async function recordOutcomes(
  tx: Tx,
  deviceId: string,
  reported: Seq<ReportedRecord>[],
  now: number,
): Promise<void> {
  for (const record of [...reported].sort((a, b) => a.seq - b.seq)) {
    const version = record.version ?? record.appliedVersion;
    if (version < 1) continue;
    const outcome = record.outcome ?? "applied";
    const reason = outcome === "failed" ? record.reason ?? "failed without a reason" : null;
    await tx.insertInto("desired_reports")
      .values({ device_id: deviceId, version, outcome, reason, reported_at: now })
      .onConflict((oc) => oc.columns(["device_id", "version"]).doNothing())
      .execute();
    await tx.updateTable("rollout_targets")
      .set({ state: outcome, reason, updated_at: now })
      .where("device_id", "=", deviceId)
      .where("state", "=", "pending")
      .where("version", "<=", version)
      .execute();
  }
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
      // A cancelled command that answers was delivered after all (cancelling raced the
      // publish): the answer is the truth.
      .where("status", "in", ["queued", "delivered", "cancelled"])
      .execute();
  }
  return ids.filter((id) => !known.has(id));
}

/**
 * Advances the contiguous prefix. Between commits, every stored seq above `acked_seq` lies in
 * a recorded range, and no range starts at or below `acked_seq + 1` (it would be merged).
 *
 * - A batch that extends the prefix (the common case: `from <= acked + 1`) moves it to `to`
 *   without recording its range; the ranges it reaches are merged (deleted) at once. It is
 *   `fresh` — none of its seqs can be stored yet — when it starts right after the ack and
 *   reaches no range.
 * - A batch after a gap records its range (a resend from the same seq may carry a longer one)
 *   until the gap closes.
 *
 * Merging deletes every range the prefix reaches, repeatedly: in the common case that is one
 * `DELETE … RETURNING` that finds nothing.
 */
async function advanceAck(
  tx: Tx,
  deviceId: string,
  batch: Batch,
  ackedBefore: number,
): Promise<{ ackedSeq: number; fresh: boolean }> {
  let acked = ackedBefore;
  if (batch.from <= ackedBefore + 1) {
    acked = Math.max(ackedBefore, batch.to);
  } else {
    await tx.insertInto("received_ranges")
      .values({ device_id: deviceId, from_seq: batch.from, to_seq: batch.to })
      .onConflict((oc) => oc.columns(["device_id", "from_seq"]).doNothing())
      .execute();
    await tx.updateTable("received_ranges").set({ to_seq: batch.to })
      .where("device_id", "=", deviceId)
      .where("from_seq", "=", batch.from)
      .where("to_seq", "<", batch.to)
      .execute();
  }
  let reachedRange = false;
  for (;;) {
    const merged = await tx.deleteFrom("received_ranges")
      .where("device_id", "=", deviceId)
      .where("from_seq", "<=", acked + 1)
      .returning("to_seq")
      .execute();
    if (merged.length > 0) reachedRange = true;
    let reach = acked;
    for (const range of merged) reach = Math.max(reach, Number(range.to_seq));
    if (reach <= acked) break;
    acked = reach;
  }
  return { ackedSeq: acked, fresh: batch.from === ackedBefore + 1 && !reachedRange };
}
