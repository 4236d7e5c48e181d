/**
 * The agent's local data: readings, events and the transactional outbox. Every write commits
 * its rows and their outbox records in one transaction, with consecutive `seq` numbers.
 * @module
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type Database from "libsql";
import { transact } from "@outpost/platform/sqlite";
import {
  IDEMPOTENCY_TTL_MS,
  IdempotencyConflict,
  type IdempotencyRequest,
} from "@outpost/platform/idempotency";
import { BulkInserter } from "./bulk_insert.ts";
import type { AgentDatabase } from "./schema.ts";
import type {
  CommandResultRecord,
  EventRecord,
  ReadingRecord,
  ReportedRecord,
} from "@outpost/protocol";
import { withTraceparent } from "@outpost/protocol";

/** A reading to store; `ts` is device time in ms since the epoch. */
export interface NewReading {
  sensor: string;
  value: number;
  unit: string;
  ts: number;
}

/** Options of a local write. */
export interface WriteOptions {
  /** Receive time, ms since the epoch (default: now). */
  now?: number;
  /**
   * The W3C trace context of the write, stored in its outbox records so the upload (maybe
   * hours later) and the cloud's commit join its trace. Only when tracing is on.
   */
  traceparent?: string;
  /**
   * The request's Idempotency-Key: a key seen before returns its first result (`replayed`) and
   * stores nothing; a new one is recorded in the write's own transaction.
   */
  idempotency?: IdempotencyRequest;
}

/** A stored reading as the API returns it. */
export interface Reading {
  seq: number;
  sensor: string;
  value: number;
  unit: string;
  ts: string;
}

/** One aggregate bucket of readings of one sensor. */
export interface ReadingBucket {
  sensor: string;
  bucket: string;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/** A sensor and when it last reported (ms since the epoch; null when only in the future). */
export interface SensorActivity {
  sensor: string;
  lastTs: number | null;
}

/** Filters of a readings query; times in ms since the epoch. */
export interface ReadingsQuery {
  sensor?: string;
  from?: number;
  to?: number;
  limit: number;
}

/** An event to store. */
export interface NewEvent {
  kind: string;
  severity: "info" | "warning" | "critical";
  message: string;
  data?: unknown;
  /** When it happened (device time, ms since the epoch); default: when stored. */
  ts?: number;
}

/** A stored event as the API returns it. */
export interface StoredEvent {
  id: string;
  seq: number;
  kind: string;
  severity: string;
  message: string;
  data?: unknown;
  /** When it happened (device time). */
  ts: string;
  /** When the agent stored it. */
  createdAt: string;
}

/** Set on a write's result when it was replayed from its Idempotency-Key, not written again. */
export interface Replayed {
  replayed?: true;
}

/** The most Idempotency-Key records kept; the oldest go first beyond it. */
export const MAX_IDEMPOTENCY_KEYS = 100_000;

/** Filters of an events query. */
export interface EventsQuery {
  kind?: string;
  severity?: string;
  limit: number;
}

/** Outbox counters: `pending` records not yet acked, up to `lastSeq`. */
export interface OutboxStats {
  lastSeq: number;
  ackedSeq: number;
  pending: number;
  lastAckAt: string | null;
}

/** Desired configuration from the cloud and the version the device applied. */
export interface DeviceConfig {
  desired: Record<string, unknown>;
  desiredVersion: number;
  appliedVersion: number;
  /** The newest version that failed to apply, while it is the newest received. */
  lastFailure?: { version: number; reason: string };
}

/** A run of outbox rows in seq order. */
export interface OutboxRow {
  seq: number;
  payload: string;
}

/** A desired-state message as the store keeps it. */
export interface DesiredMessage {
  version: number;
  desired: Record<string, unknown>;
}

/** A command as the store records it: its id, name and how it ended. */
export interface CommandOutcomeRecord {
  id: string;
  name: string;
  status: "succeeded" | "failed";
}

type Db = Kysely<AgentDatabase> | Transaction<AgentDatabase>;

/** The keys of the `sync_state` table, spelled here and nowhere else. */
const STATE = {
  ackedSeq: "acked_seq",
  lastAckAt: "last_ack_at",
  desired: "desired",
  desiredVersion: "desired_version",
  appliedVersion: "applied_version",
  appliedDesired: "applied_desired",
  lastFailure: "last_failure",
} as const;
type StateKey = typeof STATE[keyof typeof STATE];

async function currentSeq(db: Db): Promise<number> {
  const row = await sql<{ seq: number }>`SELECT seq FROM sqlite_sequence WHERE name = 'outbox'`
    .execute(db);
  return row.rows[0]?.seq ?? 0;
}

async function readState(db: Db, key: StateKey): Promise<string | undefined> {
  const row = await db.selectFrom("sync_state").select("value").where("key", "=", key)
    .executeTakeFirst();
  return row?.value;
}

/**
 * The stored result of `request` inside a write transaction, or undefined when the key is new
 * (or expired). @throws IdempotencyConflict when the key was used with another body.
 */
async function replay<T>(
  db: Db,
  request: IdempotencyRequest | undefined,
  now: number,
): Promise<(T & Replayed) | undefined> {
  if (!request) return undefined;
  const row = await db.selectFrom("idempotency_keys").select(["fingerprint", "response"])
    .where("scope", "=", request.scope).where("key", "=", request.key)
    .where("created_at", ">=", now - IDEMPOTENCY_TTL_MS).executeTakeFirst();
  if (!row) return undefined;
  if (row.fingerprint !== request.fingerprint) throw new IdempotencyConflict(request.key);
  return { ...JSON.parse(row.response), replayed: true };
}

/** Records a write's result under its key, in the write's own transaction. */
async function remember(
  db: Db,
  request: IdempotencyRequest | undefined,
  result: unknown,
  now: number,
): Promise<void> {
  if (!request) return;
  const values = {
    scope: request.scope,
    key: request.key,
    fingerprint: request.fingerprint,
    response: JSON.stringify(result),
    created_at: now,
  };
  // An expired record of the same key is replaced.
  await db.insertInto("idempotency_keys").values(values)
    .onConflict((oc) => oc.columns(["scope", "key"]).doUpdateSet(values)).execute();
}

async function writeState(db: Db, key: StateKey, value: string): Promise<void> {
  await db.insertInto("sync_state").values({ key, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

/** The agent's data access. Safe to share: the driver serializes statements. */
export class AgentStore {
  readonly #db: Kysely<AgentDatabase>;
  #appendListeners = new Set<() => void>();
  #generation = 0;
  #outboxInserts: BulkInserter;
  #readingInserts: BulkInserter;

  /** `raw` is the libSQL handle under `db` (batch inserts use prepared statements on it). */
  constructor(db: Kysely<AgentDatabase>, raw: Database.Database) {
    this.#db = db;
    this.#outboxInserts = new BulkInserter(raw, "outbox", ["seq", "kind", "payload", "created_at"]);
    this.#readingInserts = new BulkInserter(raw, "readings", [
      "seq",
      "sensor",
      "value",
      "unit",
      "ts",
      "received_at",
    ]);
  }

  /** Calls `listener` after every commit that appended outbox records (wakes the publisher). */
  onAppend(listener: () => void): () => void {
    this.#appendListeners.add(listener);
    return () => this.#appendListeners.delete(listener);
  }

  /** Tells the listeners that records were appended; called after each commit that did. */
  #notifyAppend(): void {
    this.#generation++;
    for (const listener of this.#appendListeners) listener();
  }

  /** Changes whenever readings or events may have changed (cache key for reads). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Stores readings and their outbox records in one transaction. With `options.idempotency`, a
   * key seen before returns its first result (`replayed`) and stores nothing; the key is
   * recorded in the same transaction as the rows.
   * @throws IdempotencyConflict when the key was used with another body.
   */
  async insertReadings(
    readings: NewReading[],
    options: WriteOptions = {},
  ): Promise<{ accepted: number; lastSeq: number } & Replayed> {
    const now = options.now ?? Date.now();
    const traceparent = options.traceparent;
    const idempotency = options.idempotency;
    if (readings.length === 0) {
      return { accepted: 0, lastSeq: await currentSeq(this.#db) };
    }
    return await transact(this.#db, async (tx) => {
      const replayed = await replay<{ accepted: number; lastSeq: number }>(tx, idempotency, now);
      if (replayed) return replayed;
      const first = (await currentSeq(tx)) + 1;
      const outbox = new Array<unknown>(readings.length * 4);
      const rows = new Array<unknown>(readings.length * 6);
      let lastTs = NaN;
      let lastIso = "";
      for (let i = 0; i < readings.length; i++) {
        const reading = readings[i];
        const seq = first + i;
        // Batches mostly share one timestamp (the time received): format it once.
        if (reading.ts !== lastTs) {
          lastTs = reading.ts;
          lastIso = new Date(reading.ts).toISOString();
        }
        const payload = withTraceparent(
          JSON.stringify(
            {
              type: "reading",
              sensor: reading.sensor,
              value: reading.value,
              unit: reading.unit,
              ts: lastIso,
            } satisfies ReadingRecord,
          ),
          traceparent,
        );
        outbox[i * 4] = seq;
        outbox[i * 4 + 1] = "reading";
        outbox[i * 4 + 2] = payload;
        outbox[i * 4 + 3] = now;
        rows[i * 6] = seq;
        rows[i * 6 + 1] = reading.sensor;
        rows[i * 6 + 2] = reading.value;
        rows[i * 6 + 3] = reading.unit;
        rows[i * 6 + 4] = reading.ts;
        rows[i * 6 + 5] = now;
      }
      // Synchronous statements on the transaction's connection (see bulk_insert.ts).
      this.#outboxInserts.insert(outbox);
      this.#readingInserts.insert(rows);
      const result = { accepted: readings.length, lastSeq: first + readings.length - 1 };
      await remember(tx, idempotency, result, now);
      return result;
    }).finally(() => this.#notifyAppend());
  }

  /** The newest readings first, filtered. */
  async queryReadings(query: ReadingsQuery): Promise<Reading[]> {
    let select = this.#db.selectFrom("readings").select(["seq", "sensor", "value", "unit", "ts"]);
    if (query.sensor !== undefined) select = select.where("sensor", "=", query.sensor);
    if (query.from !== undefined) select = select.where("ts", ">=", query.from);
    if (query.to !== undefined) select = select.where("ts", "<", query.to);
    const rows = await select.orderBy("ts", "desc").orderBy("seq", "desc").limit(query.limit)
      .execute();
    return rows.map((row) => ({ ...row, ts: new Date(row.ts).toISOString() }));
  }

  /** min/max/avg/count per sensor per bucket of `bucketMs`, oldest bucket first. */
  async aggregateReadings(query: ReadingsQuery, bucketMs: number): Promise<ReadingBucket[]> {
    // A literal, not a parameter: numbers bind as REAL and would make the division fractional.
    const width = sql.lit(Math.max(1, Math.trunc(bucketMs)));
    const bucket = sql<number>`(ts / ${width}) * ${width}`;
    let select = this.#db.selectFrom("readings").select((eb) => [
      "sensor",
      bucket.as("bucket"),
      eb.fn.min<number>("value").as("min"),
      eb.fn.max<number>("value").as("max"),
      // The sum behind AVG overflows for values near ±1.8e308 (SQLite then answers NULL);
      // scaled down first, the average of finite values is finite again.
      sql<number>`COALESCE(AVG(value), AVG(value * 1e-300) * 1e300)`.as("avg"),
      eb.fn.countAll<number>().as("count"),
    ]);
    if (query.sensor !== undefined) select = select.where("sensor", "=", query.sensor);
    if (query.from !== undefined) select = select.where("ts", ">=", query.from);
    if (query.to !== undefined) select = select.where("ts", "<", query.to);
    const rows = await select.groupBy(["sensor", sql`2`]).orderBy(sql`2`, "desc")
      .orderBy("sensor", "desc").limit(query.limit).execute();
    return rows.reverse().map((row) => ({
      sensor: row.sensor,
      bucket: new Date(Number(row.bucket)).toISOString(),
      min: row.min,
      max: row.max,
      avg: row.avg,
      count: Number(row.count),
    }));
  }

  /**
   * The distinct sensor names, sorted. A skip scan over the (sensor, ts) index: one index seek
   * per sensor instead of `SELECT DISTINCT`, which walks every reading (the dashboard calls this
   * on each render).
   */
  async listSensors(): Promise<string[]> {
    const rows = await sql<{ sensor: string }>`
      WITH RECURSIVE sensors(sensor) AS (
        SELECT MIN(sensor) FROM readings
        UNION ALL
        SELECT (SELECT MIN(sensor) FROM readings WHERE sensor > sensors.sensor)
        FROM sensors WHERE sensors.sensor IS NOT NULL
      )
      SELECT sensor FROM sensors WHERE sensor IS NOT NULL`.execute(this.#db);
    return rows.rows.map((row) => row.sensor);
  }

  /**
   * Every sensor with the time of its newest reading dated no later than `until`, the most
   * recently active first (sensors with only later readings last, then by name). Readings dated
   * in the future (a device clock off by years) would otherwise keep a sensor on top forever.
   * One index seek per sensor, as in {@link listSensors}.
   */
  async sensorActivity(until: number): Promise<SensorActivity[]> {
    const rows = await sql<{ sensor: string; last_ts: number | null }>`
      WITH RECURSIVE sensors(sensor) AS (
        SELECT MIN(sensor) FROM readings
        UNION ALL
        SELECT (SELECT MIN(sensor) FROM readings WHERE sensor > sensors.sensor)
        FROM sensors WHERE sensors.sensor IS NOT NULL
      )
      SELECT sensor,
        (SELECT MAX(ts) FROM readings r WHERE r.sensor = sensors.sensor AND r.ts <= ${until})
          AS last_ts
      FROM sensors WHERE sensor IS NOT NULL`.execute(this.#db);
    return rows.rows
      .map((row) => ({
        sensor: row.sensor,
        lastTs: row.last_ts === null ? null : Number(row.last_ts),
      }))
      .sort((a, b) =>
        (b.lastTs ?? -Infinity) - (a.lastTs ?? -Infinity) || (a.sensor < b.sensor ? -1 : 1)
      );
  }

  /**
   * Stores an event and its outbox record in one transaction; `options.idempotency` as for
   * {@link insertReadings}.
   * @throws IdempotencyConflict when the key was used with another body.
   */
  async insertEvent(event: NewEvent, options: WriteOptions = {}): Promise<StoredEvent & Replayed> {
    const now = options.now ?? Date.now();
    const idempotency = options.idempotency;
    const id = crypto.randomUUID();
    const createdAt = new Date(now).toISOString();
    const happened = event.ts ?? now;
    const ts = new Date(happened).toISOString();
    const data = event.data === undefined ? null : JSON.stringify(event.data);
    const record: EventRecord = {
      type: "event",
      id,
      kind: event.kind,
      severity: event.severity,
      message: event.message,
      ...(event.data === undefined ? {} : { data: event.data }),
      ts,
    };
    return await transact(this.#db, async (tx) => {
      const replayed = await replay<StoredEvent>(tx, idempotency, now);
      if (replayed) return replayed;
      const payload = withTraceparent(JSON.stringify(record), options.traceparent);
      const seq = await this.#appendOutbox(tx, [payload], "event", now);
      await tx.insertInto("events").values({
        seq,
        id,
        kind: event.kind,
        severity: event.severity,
        message: event.message,
        data,
        created_at: now,
        ts: happened,
      }).execute();
      const stored: StoredEvent = {
        id,
        seq,
        kind: event.kind,
        severity: event.severity,
        message: event.message,
        ...(event.data === undefined ? {} : { data: event.data }),
        ts,
        createdAt,
      };
      await remember(tx, idempotency, stored, now);
      return stored;
    }).finally(() => this.#notifyAppend());
  }

  /**
   * Forgets Idempotency-Key records older than their 24 hours, and the oldest beyond
   * {@link MAX_IDEMPOTENCY_KEYS}. Returns how many went.
   */
  async pruneIdempotencyKeys(now = Date.now()): Promise<number> {
    const expired = await this.#db.deleteFrom("idempotency_keys")
      .where("created_at", "<", now - IDEMPOTENCY_TTL_MS).executeTakeFirst();
    const excess = await sql`DELETE FROM idempotency_keys WHERE rowid IN (
      SELECT rowid FROM idempotency_keys ORDER BY created_at DESC LIMIT -1 OFFSET ${MAX_IDEMPOTENCY_KEYS}
    )`.execute(this.#db);
    return Number(expired.numDeletedRows) + Number(excess.numAffectedRows ?? 0);
  }

  /** The newest events first, filtered. */
  async listEvents(query: EventsQuery): Promise<StoredEvent[]> {
    let select = this.#db.selectFrom("events").selectAll();
    if (query.kind !== undefined) select = select.where("kind", "=", query.kind);
    if (query.severity !== undefined) select = select.where("severity", "=", query.severity);
    const rows = await select.orderBy("seq", "desc").limit(query.limit).execute();
    return rows.map(toStoredEvent);
  }

  /** One event by id. */
  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const row = await this.#db.selectFrom("events").selectAll().where("id", "=", id)
      .executeTakeFirst();
    return row ? toStoredEvent(row) : undefined;
  }

  /**
   * The one outbox writer: appends `payloads` with consecutive seqs inside `tx` and returns the
   * first seq. Runs on the transaction's connection (see bulk_insert.ts), so it commits or rolls
   * back with the rows it reports.
   */
  async #appendOutbox(tx: Db, payloads: string[], kind: string, now: number): Promise<number> {
    const first = (await currentSeq(tx)) + 1;
    const values = new Array<unknown>(payloads.length * 4);
    for (let i = 0; i < payloads.length; i++) {
      values[i * 4] = first + i;
      values[i * 4 + 1] = kind;
      values[i * 4 + 2] = payloads[i];
      values[i * 4 + 3] = now;
    }
    this.#outboxInserts.insert(values);
    return first;
  }

  /** The version of the desired state held (0 before the first). */
  async desiredVersion(): Promise<number> {
    return Number(await readState(this.#db, STATE.desiredVersion) ?? 0);
  }

  /**
   * Stores a desired state newer than the one held, with the version now in force and the
   * reported record that tells the cloud, in one transaction. The version in force (and the
   * record's `appliedVersion`) is the message's when `report.outcome` is not `failed`, else the
   * one applied before (the agent keeps its working settings). The desired state applied last is
   * kept too, so a restart puts the same settings in force. Returns false, changing nothing,
   * when the version is not newer (a concurrent delivery may have won).
   */
  async storeDesired(
    message: DesiredMessage,
    report: Omit<ReportedRecord, "appliedVersion">,
    now = Date.now(),
  ): Promise<boolean> {
    const stored = await transact(this.#db, async (tx) => {
      const latest = Number(await readState(tx, STATE.desiredVersion) ?? 0);
      if (message.version <= latest) return false;
      const failed = report.outcome === "failed";
      const applied = failed
        ? Number(await readState(tx, STATE.appliedVersion) ?? 0)
        : message.version;
      await writeState(tx, STATE.desired, JSON.stringify(message.desired));
      await writeState(tx, STATE.desiredVersion, String(message.version));
      await writeState(tx, STATE.appliedVersion, String(applied));
      if (failed) {
        await writeState(
          tx,
          STATE.lastFailure,
          JSON.stringify({ version: message.version, reason: report.reason ?? "" }),
        );
      } else {
        await writeState(tx, STATE.appliedDesired, JSON.stringify(message.desired));
        await writeState(tx, STATE.lastFailure, "");
      }
      const record: ReportedRecord = { ...report, appliedVersion: applied };
      await this.#appendOutbox(tx, [JSON.stringify(record)], record.type, now);
      return true;
    });
    if (stored) this.#notifyAppend();
    return stored;
  }

  /** The desired state applied last (`{}` before any): what a restart puts in force. */
  async appliedDesired(): Promise<Record<string, unknown>> {
    const text = await readState(this.#db, STATE.appliedDesired);
    return text ? JSON.parse(text) : {};
  }

  /** True when a command with this id was already run (commands run once per id). */
  async hasSeenCommand(id: string): Promise<boolean> {
    const seen = await this.#db.selectFrom("commands_seen").select("id").where("id", "=", id)
      .executeTakeFirst();
    return seen !== undefined;
  }

  /**
   * Records that a command ran and appends its result record, in one transaction. Returns false,
   * changing nothing, when its id was recorded meanwhile (a concurrent delivery won).
   */
  async recordCommand(
    command: CommandOutcomeRecord,
    result: CommandResultRecord,
    now = Date.now(),
  ): Promise<boolean> {
    const recorded = await transact(this.#db, async (tx) => {
      const inserted = await tx.insertInto("commands_seen")
        .values({ id: command.id, name: command.name, status: command.status, received_at: now })
        .onConflict((oc) => oc.column("id").doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await this.#appendOutbox(tx, [JSON.stringify(result)], result.type, now);
      return true;
    });
    if (recorded) this.#notifyAppend();
    return recorded;
  }

  /** Outbox counters; O(1) because seqs are consecutive and acks are a prefix. */
  async outboxStats(): Promise<OutboxStats> {
    const [lastSeq, acked, lastAckAt] = await Promise.all([
      currentSeq(this.#db),
      readState(this.#db, STATE.ackedSeq),
      readState(this.#db, STATE.lastAckAt),
    ]);
    const ackedSeq = Number(acked ?? 0);
    return {
      lastSeq,
      ackedSeq,
      pending: Math.max(0, lastSeq - ackedSeq),
      lastAckAt: lastAckAt ?? null,
    };
  }

  /**
   * When the oldest record not yet acked was written (ms since the epoch); undefined when
   * nothing is pending. Acked rows are pruned at once, so it is the first outbox row.
   */
  async oldestPendingAt(): Promise<number | undefined> {
    const row = await this.#db.selectFrom("outbox").select("created_at").orderBy("seq").limit(1)
      .executeTakeFirst();
    return row?.created_at;
  }

  /** Outbox rows after `afterSeq`, in order, at most `limit`. */
  async readOutbox(afterSeq: number, limit: number): Promise<OutboxRow[]> {
    return await this.#db.selectFrom("outbox").select(["seq", "payload"]).where(
      "seq",
      ">",
      afterSeq,
    )
      .orderBy("seq").limit(limit).execute();
  }

  /**
   * Records the cloud's contiguous ack: prunes acked outbox rows and raises `acked_seq`
   * (never lowers it). Returns the acked seq now in force.
   */
  async acknowledge(upTo: number, now = Date.now()): Promise<number> {
    return await transact(this.#db, async (tx) => {
      const current = Number(await readState(tx, STATE.ackedSeq) ?? 0);
      const last = await currentSeq(tx);
      // An ack beyond what we ever wrote is a cloud bug or a forged message: cap it.
      const next = Math.min(Math.max(current, upTo), last);
      if (next > current) {
        await tx.deleteFrom("outbox").where("seq", "<=", next).execute();
        await writeState(tx, STATE.ackedSeq, String(next));
      }
      await writeState(tx, STATE.lastAckAt, new Date(now).toISOString());
      return next;
    });
  }

  /**
   * Renumbers every record not yet acked so the first follows `cloudAckedSeq`, and raises the
   * acked seq to it. Needed when the device lost its data dir but the cloud still holds its
   * earlier records: the fresh seqs 1, 2, … would otherwise be taken for duplicates and lost.
   * Returns the offset applied (0 when nothing had to move).
   */
  async rebaseSeqs(cloudAckedSeq: number): Promise<number> {
    return await transact(this.#db, async (tx) => {
      const acked = Number(await readState(tx, STATE.ackedSeq) ?? 0);
      if (cloudAckedSeq <= acked) return 0;
      const offset = cloudAckedSeq - acked;
      // Two steps through negative seqs so no intermediate value collides with a primary key.
      for (const table of ["outbox", "readings", "events"] as const) {
        await sql`UPDATE ${sql.table(table)} SET seq = -(seq + ${offset}) WHERE seq > ${acked}`
          .execute(tx);
        await sql`UPDATE ${sql.table(table)} SET seq = -seq WHERE seq < 0`.execute(tx);
      }
      const last = await currentSeq(tx);
      await sql`DELETE FROM sqlite_sequence WHERE name = 'outbox'`.execute(tx);
      await sql`INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ${
        Math.max(last + offset, cloudAckedSeq)
      })`
        .execute(tx);
      await writeState(tx, STATE.ackedSeq, String(cloudAckedSeq));
      return offset;
    }).finally(() => this.#generation++);
  }

  /**
   * Deletes readings and events older than `retentionDays`, but never a row whose outbox
   * record is not yet acked. Returns how many rows went.
   */
  async pruneExpired(retentionDays: number, now = Date.now()): Promise<number> {
    const cutoff = now - retentionDays * 86_400_000;
    const acked = Number(await readState(this.#db, STATE.ackedSeq) ?? 0);
    const readings = await this.#db.deleteFrom("readings").where("ts", "<", cutoff)
      .where("seq", "<=", acked).executeTakeFirst();
    const events = await this.#db.deleteFrom("events").where("created_at", "<", cutoff)
      .where("seq", "<=", acked).executeTakeFirst();
    this.#generation++;
    return Number(readings.numDeletedRows) + Number(events.numDeletedRows);
  }

  /** The desired configuration as last received and the version applied. */
  async readConfig(): Promise<DeviceConfig> {
    const [desired, desiredVersion, appliedVersion, lastFailure] = await Promise.all([
      readState(this.#db, STATE.desired),
      readState(this.#db, STATE.desiredVersion),
      readState(this.#db, STATE.appliedVersion),
      readState(this.#db, STATE.lastFailure),
    ]);
    return {
      desired: desired ? JSON.parse(desired) : {},
      desiredVersion: Number(desiredVersion ?? 0),
      appliedVersion: Number(appliedVersion ?? 0),
      ...(lastFailure ? { lastFailure: JSON.parse(lastFailure) } : {}),
    };
  }

  /** True when the database answers a query. */
  async ping(): Promise<boolean> {
    await sql`SELECT 1`.execute(this.#db);
    return true;
  }
}

function toStoredEvent(row: AgentDatabase["events"]): StoredEvent {
  return {
    id: row.id,
    seq: row.seq,
    kind: row.kind,
    severity: row.severity,
    message: row.message,
    ...(row.data === null ? {} : { data: JSON.parse(row.data) }),
    ts: new Date(row.ts ?? row.created_at).toISOString(),
    createdAt: new Date(row.created_at).toISOString(),
  };
}
