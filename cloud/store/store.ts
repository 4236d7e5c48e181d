/**
 * The cloud's data access: devices and their sync position, readings and events as ingested,
 * desired state and commands. Written with Kysely's query builder only, so libSQL and
 * PostgreSQL share it; what differs (row locks) lives in `dialect.ts`.
 * @module
 */
import { type Kysely, type Selectable, sql } from "kysely";
import type { Batch, Status } from "@outpost/protocol";
import type { DesiredChange, DesiredState } from "../fleet/desired_patch.ts";
import { type BatchOutcome, commitBatch } from "./batch.ts";
import {
  countSelection,
  decodeCursor,
  type DeviceCounts,
  type DeviceFilter,
  deviceFilterExpression,
  encodeCursor,
  toCounts,
} from "./device_query.ts";
import { selectDeviceForUpdate, type StoreDialect, writeTransaction } from "./dialect.ts";
import * as credentials from "./broker_credentials.ts";
import * as identity from "./identity.ts";
import type {
  CloudDatabase,
  CommandsTable,
  DevicesTable,
  DeviceStatus,
  RequestStatus,
} from "./schema.ts";

export type {
  DecisionOutcome,
  DeleteOutcome,
  DeviceEnrollment,
  DeviceIdentity,
  EnrollmentRequestsQuery,
  EnrollmentRequestView,
  EnrollmentTokenView,
  EnrollMode,
  EnrollOutcome,
  NewEnrollmentRequest,
  NewEnrollmentToken,
  PositionReset,
  PositionResetOutcome,
} from "./identity.ts";
import { JobStore } from "./jobs.ts";
import { writeLabelRows } from "./labels.ts";
import { RolloutStore } from "./rollouts.ts";
import { type CommandView, iso, toCommand } from "./rows.ts";

export type { CommandView } from "./rows.ts";

/** When a message was received; defaults to now. */
export interface ReceivedOptions {
  /** Receive time, ms since the epoch. */
  now?: number;
  /**
   * How far beyond the device's acked seq a batch may start, or a status may put its last seq
   * (default {@link DEFAULT_MAX_SEQ_GAP}); see `commitBatch` and {@link CloudStore.applyStatus}.
   */
  maxSeqGap?: number;
}

/**
 * The default of `OUTPOST_MAX_SEQ_GAP`: a working agent never starts a batch more than its
 * window (8 batches of 1,000) beyond the ack, so a million is plenty, and a larger jump is a
 * bug or an attack that would poison the device's lag.
 */
export const DEFAULT_MAX_SEQ_GAP = 1_000_000;

/** A device as the fleet list shows it. */
export interface DeviceSummary {
  id: string;
  online: boolean;
  lastSeen: string | null;
  ackedSeq: number;
  lastSeq: number;
  /** Records the device has written that the cloud has not stored contiguously yet. */
  lag: number;
  version: string | null;
  arch: string | null;
  labels: Record<string, string>;
  /** `active`, `revoked` or `decommissioned` (deleted devices are not listed). */
  status: Exclude<DeviceStatus, "deleted">;
  /** When the status last changed (null: active since before statuses were recorded). */
  statusChangedAt: string | null;
}

/** What {@link CloudStore.fleetStats} counts. */
export interface FleetStats {
  total: number;
  online: number;
  offline: number;
  /** Devices whose last known seq is above their acked seq. */
  lagging: number;
  /** Sum over devices of (last known seq − acked seq). */
  backlogRecords: number;
  backlogMaxRecords: number;
  /** Offline devices not seen for longer than each threshold. */
  offlineLongerThan: { ms: number; devices: number }[];
}

/** What a device answered to one desired version. */
export interface DesiredReport {
  version: number;
  outcome: "applied" | "failed";
  reason?: string;
  reportedAt: string;
}

/** One device with its configuration and row counts. */
export interface DeviceDetail extends DeviceSummary {
  enrolledAt: string;
  /** The enrollment token that created it; null: the bootstrap token (or before tokens). */
  enrolledWith: string | null;
  /** Enrollment requests under this id waiting for an operator. */
  pendingRequests: number;
  /** Rows stored, from counters the ingest keeps in each batch's transaction. */
  stats: { readings: number; events: number };
  desired: Record<string, unknown>;
  desiredVersion: number;
  appliedVersion: number;
  reported: Record<string, unknown>;
  /** The device's newest answers to desired versions, newest first. */
  desiredReports: DesiredReport[];
}

/** A page of the device list. */
export interface DevicePageQuery extends DeviceFilter {
  /** Devices per page. */
  limit: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of devices by id, the cursor of the next, and the counts of the filtered set. */
export interface DevicePage {
  items: DeviceSummary[];
  nextCursor: string | null;
  /** Counts of every device the selector and `q` match, whatever `state` and the page. */
  counts: DeviceCounts;
}

/** Options of {@link CloudStore.setDesired}. */
export interface SetDesiredOptions {
  now?: number;
  /**
   * A per-device PUT: its keys are pinned (rollouts created before leave them alone), and the
   * stored state is `compose(body, changes of the running rollouts that reached the device)`.
   */
  compose?: (body: DesiredState, active: DesiredChange[][]) => DesiredState;
}

/** What a device needs re-sent when it comes online. */
export interface DownlinkState {
  /** False for a revoked, decommissioned or deleted device: it gets no downlink. */
  active: boolean;
  ackedSeq: number;
  desired: Record<string, unknown>;
  desiredVersion: number;
  appliedVersion: number;
}

/** A device's sensor and the device time of its newest reading (ms; null: only future ones). */
export interface CloudSensorActivity {
  sensor: string;
  lastTs: number | null;
}

/** Filters of a readings query; times in ms since the epoch. */
export interface CloudReadingsQuery {
  device?: string;
  sensor?: string;
  from?: number;
  to?: number;
  limit: number;
}

/** A stored reading as the API returns it. */
export interface CloudReading {
  device: string;
  seq: number;
  sensor: string;
  value: number;
  unit: string;
  ts: string;
  receivedAt: string;
}

/** min/max/avg/count of one sensor of one device in one bucket. */
export interface CloudReadingBucket {
  device: string;
  sensor: string;
  bucket: string;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/** Filters of an events query. */
export interface CloudEventsQuery {
  device?: string;
  severity?: string;
  limit: number;
}

/** A stored event as the API returns it. */
export interface CloudEvent {
  device: string;
  seq: number;
  id: string;
  kind: string;
  severity: string;
  message: string;
  data?: unknown;
  ts: string;
  receivedAt: string;
}

function toSummary(row: Selectable<DevicesTable>): DeviceSummary {
  const ackedSeq = Number(row.acked_seq);
  const lastSeq = Number(row.last_seq);
  return {
    id: row.id,
    online: Number(row.online) === 1,
    lastSeen: row.last_seen === null ? null : iso(row.last_seen),
    ackedSeq,
    lastSeq,
    lag: Math.max(0, lastSeq - ackedSeq),
    version: row.version,
    arch: row.arch,
    labels: JSON.parse(row.labels),
    // Deleted rows are tombstones that no device view is built from (every reader filters them).
    status: row.status as DeviceSummary["status"],
    statusChangedAt: row.status_changed_at === null ? null : iso(row.status_changed_at),
  };
}

/** Options of {@link CloudStore}. */
export interface CloudStoreOptions {
  /** The database's dialect (default `sqlite`). */
  dialect?: StoreDialect;
}

/**
 * The cloud's data access. Safe to share: libSQL serializes statements on its one connection,
 * and on PostgreSQL every read-modify-write of a device row locks that row, so several cloud
 * processes may share one database.
 */
export class CloudStore {
  readonly db: Kysely<CloudDatabase>;
  readonly dialect: StoreDialect;
  /** Rollouts: waves and targets. */
  readonly rollouts: RolloutStore;
  /** Jobs: one command for many devices. */
  readonly jobs: JobStore;

  constructor(db: Kysely<CloudDatabase>, options: CloudStoreOptions = {}) {
    this.db = db;
    this.dialect = options.dialect ?? "sqlite";
    this.rollouts = new RolloutStore(db, this.dialect);
    this.jobs = new JobStore(db, this.dialect);
  }

  /** True when the database answers a query. */
  async ping(): Promise<boolean> {
    await sql`SELECT 1`.execute(this.db);
    return true;
  }

  /**
   * Creates a device or, when it exists and is active, rotates its password and updates the
   * metadata given. Its sync position, data and configuration are kept. (No identity checks:
   * for tests and tools; enrollment uses {@link enrollIdentity}.)
   * @throws Error when the device exists but is not active.
   */
  async enrollDevice(
    enrollment: identity.DeviceEnrollment,
    now = Date.now(),
  ): Promise<{ created: boolean; ackedSeq: number }> {
    const outcome = await this.enrollIdentity(enrollment, "upsert", now);
    if (!outcome.ok) throw new Error(`Cannot enroll '${enrollment.id}': ${outcome.reason}`);
    return { created: outcome.created, ackedSeq: outcome.ackedSeq };
  }

  /** Creates or re-enrolls a device as `mode` allows; see `identity.ts`. */
  async enrollIdentity(
    enrollment: identity.DeviceEnrollment,
    mode: identity.EnrollMode,
    now = Date.now(),
  ): Promise<identity.EnrollOutcome> {
    return await identity.enrollIdentity(this.db, this.dialect, enrollment, mode, now);
  }

  /** A device id's status and secret hash; undefined when no row exists. */
  async deviceIdentity(deviceId: string): Promise<identity.DeviceIdentity | undefined> {
    return await identity.deviceIdentity(this.db, deviceId);
  }

  /** Stores a new enrollment token (only its hash). */
  async createEnrollmentToken(
    token: identity.NewEnrollmentToken,
    now = Date.now(),
  ): Promise<identity.EnrollmentTokenView> {
    return await identity.createEnrollmentToken(this.db, token, now);
  }

  /** Every enrollment token, newest first. */
  async listEnrollmentTokens(now = Date.now()): Promise<identity.EnrollmentTokenView[]> {
    return await identity.listEnrollmentTokens(this.db, now);
  }

  /** One enrollment token. */
  async getEnrollmentToken(
    id: string,
    now = Date.now(),
  ): Promise<identity.EnrollmentTokenView | undefined> {
    return await identity.getEnrollmentToken(this.db, id, now);
  }

  /** The enrollment token with this hash. */
  async findEnrollmentToken(
    tokenHash: string,
    now = Date.now(),
  ): Promise<identity.EnrollmentTokenView | undefined> {
    return await identity.findEnrollmentToken(this.db, tokenHash, now);
  }

  /** Revokes an enrollment token; undefined when there is none. */
  async revokeEnrollmentToken(
    id: string,
    now = Date.now(),
  ): Promise<identity.EnrollmentTokenView | undefined> {
    return await identity.revokeEnrollmentToken(this.db, id, now);
  }

  /** Records an enrollment request (or another attempt of it); see `identity.ts`. */
  async recordEnrollmentRequest(
    request: identity.NewEnrollmentRequest,
    now = Date.now(),
  ): Promise<identity.EnrollmentRequestView> {
    return await identity.recordEnrollmentRequest(this.db, this.dialect, request, now);
  }

  /** Enrollment requests, most recently attempted first. */
  async listEnrollmentRequests(
    query: identity.EnrollmentRequestsQuery,
  ): Promise<identity.EnrollmentRequestView[]> {
    return await identity.listEnrollmentRequests(this.db, query);
  }

  /** One enrollment request. */
  async getEnrollmentRequest(id: string): Promise<identity.EnrollmentRequestView | undefined> {
    return await identity.getEnrollmentRequest(this.db, id);
  }

  /** Approves or rejects a pending enrollment request; see `identity.ts`. */
  async decideEnrollmentRequest(
    id: string,
    decision: Exclude<RequestStatus, "pending">,
    now = Date.now(),
  ): Promise<identity.DecisionOutcome> {
    return await identity.decideEnrollmentRequest(this.db, this.dialect, id, decision, now);
  }

  /** Sets a device's status; see `identity.ts`. Returns the previous one. */
  async setDeviceStatus(
    deviceId: string,
    status: Exclude<DeviceStatus, "deleted">,
    options: { resetSecret?: boolean; now?: number } = {},
  ): Promise<DeviceStatus | undefined> {
    return await identity.setDeviceStatus(this.db, this.dialect, deviceId, status, {
      now: options.now ?? Date.now(),
      resetSecret: options.resetSecret,
    });
  }

  /** Deletes a device, its data purged or kept; see `identity.ts`. */
  async deleteDevice(
    deviceId: string,
    options: { purge: boolean; now?: number },
  ): Promise<identity.DeleteOutcome | undefined> {
    return await identity.deleteDevice(this.db, this.dialect, deviceId, {
      purge: options.purge,
      now: options.now ?? Date.now(),
    });
  }

  /** Resets a device's sequence position; see `identity.ts`. */
  async resetPosition(
    deviceId: string,
    ackedSeq?: number,
  ): Promise<identity.PositionResetOutcome> {
    return await identity.resetPosition(this.db, this.dialect, deviceId, ackedSeq);
  }

  /**
   * The stored password hash of an active device (what the embedded broker checks); null when
   * the broker keeps credentials or the device may not connect (revoked, decommissioned);
   * undefined when the device is not enrolled.
   */
  async passwordHash(deviceId: string): Promise<string | null | undefined> {
    const row = await this.db.selectFrom("devices").select(["password_hash", "status"])
      .where("id", "=", deviceId).executeTakeFirst();
    if (!row || row.status === "deleted") return undefined;
    return row.status === "active" ? row.password_hash : null;
  }

  /** True when the device is enrolled (in any status but deleted). */
  async deviceExists(deviceId: string): Promise<boolean> {
    return (await this.passwordHash(deviceId)) !== undefined;
  }

  /**
   * One page of devices sorted by id (keyset: a device enrolled meanwhile neither shifts nor
   * repeats a later page), the cursor of the next page, and the counts of the filtered set
   * (from `options.counts` when given, e.g. a cache).
   * @throws CursorError for a cursor this store did not hand out.
   */
  async listDevicesPage(
    query: DevicePageQuery,
    options: { counts?: (filter: DeviceFilter) => Promise<DeviceCounts> } = {},
  ): Promise<DevicePage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    let select = this.db.selectFrom("devices").selectAll()
      .where((eb) => deviceFilterExpression(eb, query, this.dialect));
    if (after !== undefined) select = select.where("id", ">", after);
    const counted = { selector: query.selector, q: query.q };
    const [rows, counts] = await Promise.all([
      select.orderBy("id").limit(query.limit + 1).execute(),
      options.counts ? options.counts(counted) : this.countDevices(counted),
    ]);
    const items = rows.slice(0, query.limit).map(toSummary);
    const more = rows.length > query.limit;
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null, counts };
  }

  /** How many devices `filter` matches, by state (one pass, in SQL). */
  async countDevices(filter: DeviceFilter): Promise<DeviceCounts> {
    const row = await this.db.selectFrom("devices").select(countSelection())
      .where((eb) => deviceFilterExpression(eb, filter, this.dialect))
      .executeTakeFirstOrThrow();
    return toCounts(row);
  }

  /**
   * Replaces a device's labels (the JSON shown and the rows selectors read, in one transaction).
   * @returns false when the device is not enrolled.
   */
  async setLabels(deviceId: string, labels: Record<string, string>): Promise<boolean> {
    return await writeTransaction(this.db, this.dialect, async (tx) => {
      const row = await selectDeviceForUpdate(tx, this.dialect, deviceId).select("id")
        .executeTakeFirst();
      if (!row) return false;
      await tx.updateTable("devices").set({ labels: JSON.stringify(labels) })
        .where("id", "=", deviceId).execute();
      await writeLabelRows(tx, deviceId, labels);
      return true;
    });
  }

  /** One device with configuration, row counts and its newest desired-state answers. */
  async getDevice(deviceId: string): Promise<DeviceDetail | undefined> {
    const [row, reports, pending] = await Promise.all([
      this.db.selectFrom("devices").selectAll().where("id", "=", deviceId)
        .where("status", "!=", "deleted").executeTakeFirst(),
      this.db.selectFrom("desired_reports").selectAll().where("device_id", "=", deviceId)
        .orderBy("version", "desc").limit(5).execute(),
      this.db.selectFrom("enrollment_requests").select((eb) => eb.fn.countAll().as("n"))
        .where("device_id", "=", deviceId).where("status", "=", "pending")
        .executeTakeFirstOrThrow(),
    ]);
    if (!row) return undefined;
    return {
      ...toSummary(row),
      enrolledAt: iso(row.enrolled_at),
      enrolledWith: row.token_id,
      pendingRequests: Number(pending.n),
      stats: { readings: Number(row.readings_count), events: Number(row.events_count) },
      desired: JSON.parse(row.desired),
      desiredVersion: row.desired_version,
      appliedVersion: row.applied_version,
      reported: JSON.parse(row.reported),
      desiredReports: reports.map((report) => ({
        version: report.version,
        outcome: report.outcome,
        ...(report.reason === null ? {} : { reason: report.reason }),
        reportedAt: iso(report.reported_at),
      })),
    };
  }

  /** Commits one batch; see {@link commitBatch}. */
  async commitBatch(
    deviceId: string,
    batch: Batch,
    options: ReceivedOptions = {},
  ): Promise<BatchOutcome> {
    return await commitBatch(this.db, {
      deviceId,
      batch,
      now: options.now ?? Date.now(),
      dialect: this.dialect,
      maxSeqGap: options.maxSeqGap ?? DEFAULT_MAX_SEQ_GAP,
    });
  }

  /**
   * Applies an `up/status` message: presence, version, arch and the device's last seq. A last
   * seq more than `maxSeqGap` beyond the acked seq is not believed (it would show an absurd
   * lag for good): the last seq is raised only to that bound, and `clamped` says so.
   * @returns the device's acked seq, `active: false` for a revoked or decommissioned device
   *   (nothing changed), or undefined when it is not enrolled (nothing changed).
   */
  async applyStatus(
    deviceId: string,
    status: Status,
    options: ReceivedOptions = {},
  ): Promise<{ ackedSeq: number; active: boolean; clamped: boolean } | undefined> {
    const now = options.now ?? Date.now();
    const maxSeqGap = options.maxSeqGap ?? DEFAULT_MAX_SEQ_GAP;
    return await writeTransaction(this.db, this.dialect, async (tx) => {
      const row = await selectDeviceForUpdate(tx, this.dialect, deviceId)
        .select(["last_seq", "acked_seq", "status"]).executeTakeFirst();
      if (!row || row.status === "deleted") return undefined;
      const ackedSeq = Number(row.acked_seq);
      if (row.status !== "active") return { ackedSeq, active: false, clamped: false };
      const claimed = status.lastSeq ?? 0;
      const believed = Math.min(claimed, ackedSeq + maxSeqGap);
      await tx.updateTable("devices").set({
        online: status.online ? 1 : 0,
        // Since when it is online: kept while it stays online, cleared when it goes offline.
        online_since: status.online ? sql<number>`COALESCE(online_since, ${now})` : null,
        last_seen: now,
        ...(status.version !== undefined ? { version: status.version } : {}),
        ...(status.arch !== undefined ? { arch: status.arch } : {}),
        last_seq: Math.max(Number(row.last_seq), believed),
      }).where("id", "=", deviceId).execute();
      return { ackedSeq, active: true, clamped: believed < claimed };
    });
  }

  /** Marks one device offline (its broker connection ended). */
  async markOffline(deviceId: string): Promise<void> {
    await this.db.updateTable("devices").set({ online: 0, online_since: null })
      .where("id", "=", deviceId).execute();
  }

  /**
   * Reserves the issue time (unix seconds) of a new minted broker credential of `deviceId`,
   * revoking the ones issued before; see `broker_credentials.ts`.
   */
  async issueBrokerCredential(
    deviceId: string,
    nowSeconds = Math.floor(Date.now() / 1000),
  ): Promise<credentials.BrokerCredentialTimes> {
    return await credentials.issueBrokerCredential(this.db, this.dialect, deviceId, nowSeconds);
  }

  /** Revokes every minted broker credential of `deviceId`; false when it never had one. */
  async revokeBrokerCredentials(deviceId: string): Promise<boolean> {
    return await credentials.revokeBrokerCredentials(this.db, deviceId);
  }

  /** A device's minted-credential times; undefined when it never had any. */
  async brokerCredentialTimes(
    deviceId: string,
  ): Promise<credentials.BrokerCredentialTimes | undefined> {
    return await credentials.brokerCredentialTimes(this.db, deviceId);
  }

  /** Every device with revoked minted credentials, with the time they are revoked through. */
  async brokerRevocations(): Promise<credentials.BrokerRevocation[]> {
    return await credentials.brokerRevocations(this.db);
  }

  /** Ids of the devices marked online (the NATS presence sweep checks them). */
  async onlineDeviceIds(): Promise<string[]> {
    const rows = await this.db.selectFrom("devices").select("id").where("online", "=", 1)
      .execute();
    return rows.map((row) => row.id);
  }

  /** Marks every device offline: with an embedded broker nobody is connected at start. */
  async markAllOffline(): Promise<void> {
    await this.db.updateTable("devices").set({ online: 0, online_since: null })
      .where("online", "=", 1).execute();
  }

  /**
   * Fleet-level figures for `/metrics`, in one scan of the devices table: no per-device
   * series, so their number does not grow with the fleet. A device's backlog here is what it
   * told the cloud (`last_seq` from its batches and status) minus what is acked: an offline
   * device's newer writes are not known until it reconnects.
   */
  async fleetStats(now: number, offlineForMs: readonly number[] = []): Promise<FleetStats> {
    const offline = offlineForMs.map((ms, i) =>
      sql<number>`sum(CASE WHEN online = 0 AND coalesce(last_seen, enrolled_at) < ${
        now - ms
      } THEN 1 ELSE 0 END)`.as(`offline_${i}`)
    );
    const row = await this.db.selectFrom("devices").select([
      sql<number>`count(*)`.as("total"),
      sql<number>`sum(CASE WHEN online = 1 THEN 1 ELSE 0 END)`.as("online"),
      sql<number>`sum(CASE WHEN last_seq > acked_seq THEN 1 ELSE 0 END)`.as("lagging"),
      sql<number>`sum(CASE WHEN last_seq > acked_seq THEN last_seq - acked_seq ELSE 0 END)`.as(
        "backlog",
      ),
      sql<number>`max(last_seq - acked_seq)`.as("backlog_max"),
      ...offline,
    ]).executeTakeFirstOrThrow() as Record<string, number | string | null>;
    const total = Number(row.total ?? 0);
    const online = Number(row.online ?? 0);
    return {
      total,
      online,
      offline: total - online,
      lagging: Number(row.lagging ?? 0),
      backlogRecords: Number(row.backlog ?? 0),
      backlogMaxRecords: Math.max(0, Number(row.backlog_max ?? 0)),
      offlineLongerThan: offlineForMs.map((ms, i) => ({
        ms,
        devices: Number(row[`offline_${i}`] ?? 0),
      })),
    };
  }

  /** How many devices are online. */
  async countOnline(): Promise<number> {
    const row = await this.db.selectFrom("devices").select((eb) => eb.fn.countAll().as("n"))
      .where("online", "=", 1).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** True when the device is enrolled and online. */
  async isOnline(deviceId: string): Promise<boolean> {
    const row = await this.db.selectFrom("devices").select("online").where("id", "=", deviceId)
      .executeTakeFirst();
    return Number(row?.online ?? 0) === 1;
  }

  /** The ack, desired state and versions of a device. */
  async downlinkState(deviceId: string): Promise<DownlinkState | undefined> {
    const row = await this.db.selectFrom("devices")
      .select(["status", "acked_seq", "desired", "desired_version", "applied_version"])
      .where("id", "=", deviceId).executeTakeFirst();
    if (!row) return undefined;
    return {
      active: row.status === "active",
      ackedSeq: Number(row.acked_seq),
      desired: JSON.parse(row.desired),
      desiredVersion: row.desired_version,
      appliedVersion: row.applied_version,
    };
  }

  /**
   * Replaces the desired state and bumps its version. With `compose` (a per-device PUT) the
   * body's keys are pinned against rollouts and running rollouts keep the keys it does not set.
   * @returns the new version and the state stored, or undefined when the device is not enrolled.
   */
  async setDesired(
    deviceId: string,
    desired: Record<string, unknown>,
    options: SetDesiredOptions = {},
  ): Promise<{ version: number; desired: DesiredState } | undefined> {
    const now = options.now ?? Date.now();
    return await writeTransaction(this.db, this.dialect, async (tx) => {
      const row = await selectDeviceForUpdate(tx, this.dialect, deviceId)
        .select(["desired_version", "desired_pins"]).executeTakeFirst();
      if (!row) return undefined;
      const version = row.desired_version + 1;
      let stored = desired;
      let pins = row.desired_pins;
      if (options.compose) {
        const active = await this.rollouts.activeChanges(tx, deviceId);
        stored = options.compose(desired, active);
        const pinned = JSON.parse(row.desired_pins) as Record<string, number>;
        for (const key of Object.keys(desired)) pinned[key] = now;
        pins = JSON.stringify(pinned);
      }
      await tx.updateTable("devices")
        .set({ desired: JSON.stringify(stored), desired_version: version, desired_pins: pins })
        .where("id", "=", deviceId).execute();
      return { version, desired: stored };
    });
  }

  /** Stores a new command as `queued`. */
  async createCommand(
    command: { deviceId: string; name: string; args?: Record<string, unknown> },
    now = Date.now(),
  ): Promise<CommandView> {
    const row: CommandsTable = {
      id: crypto.randomUUID(),
      device_id: command.deviceId,
      name: command.name,
      args: command.args === undefined ? null : JSON.stringify(command.args),
      status: "queued",
      result: null,
      error: null,
      created_at: now,
      updated_at: now,
      job_id: null,
    };
    await this.db.insertInto("commands").values(row).execute();
    return toCommand(row);
  }

  /** One command of one device. */
  async getCommand(deviceId: string, commandId: string): Promise<CommandView | undefined> {
    const row = await this.db.selectFrom("commands").selectAll()
      .where("device_id", "=", deviceId).where("id", "=", commandId).executeTakeFirst();
    return row ? toCommand(row) : undefined;
  }

  /** A device's commands, newest first. */
  async listCommands(deviceId: string, limit: number): Promise<CommandView[]> {
    const rows = await this.db.selectFrom("commands").selectAll()
      .where("device_id", "=", deviceId)
      .orderBy("created_at", "desc").orderBy("id").limit(limit).execute();
    return rows.map(toCommand);
  }

  /** Commands of a device without a result yet (queued or delivered), oldest first. */
  async unansweredCommands(deviceId: string): Promise<CommandView[]> {
    const rows = await this.db.selectFrom("commands").selectAll()
      .where("device_id", "=", deviceId)
      .where("status", "in", ["queued", "delivered"])
      .orderBy("created_at").orderBy("id").execute();
    return rows.map(toCommand);
  }

  /** Marks commands delivered, unless a result arrived meanwhile. */
  async markDelivered(commandIds: string[], now = Date.now()): Promise<void> {
    if (commandIds.length === 0) return;
    await this.db.updateTable("commands").set({ status: "delivered", updated_at: now })
      .where("id", "in", commandIds)
      .where("status", "in", ["queued", "delivered"])
      .execute();
  }

  /**
   * The sensors of one device with the device time of each one's newest reading dated no later
   * than `until`, the most recently active first (sensors with only later readings last, then by
   * name). A skip scan over the (device, sensor, time) index: one seek per sensor, on both
   * dialects, however many readings the device has.
   */
  async sensorActivity(deviceId: string, until: number): Promise<CloudSensorActivity[]> {
    const rows = await sql<{ sensor: string | null; last_ts: number | string | null }>`
      WITH RECURSIVE sensors(sensor) AS (
        SELECT MIN(sensor) FROM readings WHERE device_id = ${deviceId}
        UNION ALL
        SELECT (SELECT MIN(r.sensor) FROM readings r
                WHERE r.device_id = ${deviceId} AND r.sensor > sensors.sensor)
        FROM sensors WHERE sensors.sensor IS NOT NULL
      )
      SELECT sensor,
        (SELECT MAX(r.device_ts) FROM readings r
         WHERE r.device_id = ${deviceId} AND r.sensor = sensors.sensor AND r.device_ts <= ${until})
          AS last_ts
      FROM sensors WHERE sensor IS NOT NULL`.execute(this.db);
    return rows.rows
      .map((row) => ({
        sensor: String(row.sensor),
        lastTs: row.last_ts === null ? null : Number(row.last_ts),
      }))
      .sort((a, b) =>
        (b.lastTs ?? -Infinity) - (a.lastTs ?? -Infinity) || (a.sensor < b.sensor ? -1 : 1)
      );
  }

  /** Readings newest first (by device time), filtered. */
  async queryReadings(query: CloudReadingsQuery): Promise<CloudReading[]> {
    let select = this.db.selectFrom("readings").selectAll();
    if (query.device !== undefined) select = select.where("device_id", "=", query.device);
    if (query.sensor !== undefined) select = select.where("sensor", "=", query.sensor);
    if (query.from !== undefined) select = select.where("device_ts", ">=", query.from);
    if (query.to !== undefined) select = select.where("device_ts", "<", query.to);
    const rows = await select.orderBy("device_ts", "desc").orderBy("device_id")
      .orderBy("seq", "desc").limit(query.limit).execute();
    return rows.map((row) => ({
      device: row.device_id,
      seq: Number(row.seq),
      sensor: row.sensor,
      value: Number(row.value),
      unit: row.unit,
      ts: iso(row.device_ts),
      receivedAt: iso(row.received_at),
    }));
  }

  /** min/max/avg/count per device, sensor and bucket of `bucketMs`, oldest bucket first. */
  async aggregateReadings(
    query: CloudReadingsQuery,
    bucketMs: number,
  ): Promise<CloudReadingBucket[]> {
    // A literal, not a parameter: numbers bind as REAL and would make the division fractional.
    const width = sql.lit(Math.max(1, Math.trunc(bucketMs)));
    const bucket = sql<number>`(device_ts / ${width}) * ${width}`;
    let select = this.db.selectFrom("readings").select((eb) => [
      "device_id",
      "sensor",
      bucket.as("bucket"),
      eb.fn.min<number>("value").as("min"),
      eb.fn.max<number>("value").as("max"),
      eb.fn.avg<number>("value").as("avg"),
      eb.fn.countAll<number>().as("count"),
    ]);
    if (query.device !== undefined) select = select.where("device_id", "=", query.device);
    if (query.sensor !== undefined) select = select.where("sensor", "=", query.sensor);
    if (query.from !== undefined) select = select.where("device_ts", ">=", query.from);
    if (query.to !== undefined) select = select.where("device_ts", "<", query.to);
    const rows = await select.groupBy(["device_id", "sensor", sql`3`])
      .orderBy(sql`3`, "desc").orderBy("device_id", "desc").orderBy("sensor", "desc")
      .limit(query.limit).execute();
    return rows.reverse().map((row) => ({
      device: row.device_id,
      sensor: row.sensor,
      bucket: iso(row.bucket),
      min: Number(row.min),
      max: Number(row.max),
      avg: Number(row.avg),
      count: Number(row.count),
    }));
  }

  /** Events newest first (by device time), filtered. */
  async listEvents(query: CloudEventsQuery): Promise<CloudEvent[]> {
    let select = this.db.selectFrom("events").selectAll();
    if (query.device !== undefined) select = select.where("device_id", "=", query.device);
    if (query.severity !== undefined) select = select.where("severity", "=", query.severity);
    const rows = await select.orderBy("device_ts", "desc").orderBy("device_id")
      .orderBy("seq", "desc").limit(query.limit).execute();
    return rows.map((row) => ({
      device: row.device_id,
      seq: Number(row.seq),
      id: row.id,
      kind: row.kind,
      severity: row.severity,
      message: row.message,
      ...(row.data === null ? {} : { data: JSON.parse(row.data) }),
      ts: iso(row.device_ts),
      receivedAt: iso(row.received_at),
    }));
  }
}
