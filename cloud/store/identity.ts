/**
 * Device identity in the cloud database: creating and re-enrolling devices (with their device
 * secret and the enrollment token that may be used up), enrollment tokens, enrollment requests
 * waiting for an operator, and the lifecycle of a device (revoke, reinstate, decommission,
 * delete, reset its sequence position). Functions over a Kysely handle; `CloudStore` exposes
 * them as methods.
 * @module
 */
import { type Kysely, type Selectable, sql } from "kysely";
import { selectDeviceForUpdate, type StoreDialect, writeTransaction } from "./dialect.ts";
import { writeLabelRows } from "./labels.ts";
import type {
  CloudDatabase,
  DeviceStatus,
  EnrollmentRequestsTable,
  EnrollmentTokensTable,
  RequestStatus,
} from "./schema.ts";

type Db = Kysely<CloudDatabase>;

/** Pending requests kept per device; older ones are dropped when a new one comes. */
export const MAX_PENDING_REQUESTS_PER_DEVICE = 10;

/** What enrollment records about a device. */
export interface DeviceEnrollment {
  id: string;
  /** Hash of the broker password, or null when the broker keeps credentials itself. */
  passwordHash: string | null;
  /** Hash of the device secret (`hashDeviceSecret`); kept as is when undefined. */
  secretHash?: string | null;
  /** The enrollment token used to create the device (its use is counted); none: bootstrap. */
  tokenId?: string;
  labels?: Record<string, string>;
  arch?: string;
  version?: string;
  /** The device's own acked seq, sent at enrollment. */
  ackedSeq?: number;
}

/**
 * How to enroll: `create` only a device that does not exist (or was deleted with its data
 * kept); `rotate` only an active device that exists; `upsert` either (tests and tools).
 */
export type EnrollMode = "create" | "rotate" | "upsert";

/** What {@link enrollIdentity} did. */
export type EnrollOutcome =
  | { ok: true; created: boolean; ackedSeq: number }
  | {
    ok: false;
    /**
     * `exists`: create found an existing device; `not_found`: rotate found none;
     * `inactive`: the device is revoked or decommissioned; `token_unusable`: the token was
     * revoked, expired or used up meanwhile.
     */
    reason: "exists" | "not_found" | "inactive" | "token_unusable";
  };

/** Creates or re-enrolls a device in one transaction (see {@link EnrollMode}). */
export async function enrollIdentity(
  db: Db,
  dialect: StoreDialect,
  enrollment: DeviceEnrollment,
  mode: EnrollMode,
  now: number,
): Promise<EnrollOutcome> {
  const deviceAcked = enrollment.ackedSeq ?? 0;
  return await writeTransaction(db, dialect, async (tx): Promise<EnrollOutcome> => {
    const consumeToken = async (): Promise<boolean> => {
      if (enrollment.tokenId === undefined) return true;
      const used = await tx.updateTable("enrollment_tokens")
        .set((eb) => ({ uses: eb("uses", "+", 1), last_used_at: now }))
        .where("id", "=", enrollment.tokenId)
        .where("revoked_at", "is", null)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .where((eb) => eb.or([eb("max_uses", "is", null), eb("uses", "<", eb.ref("max_uses"))]))
        .executeTakeFirst();
      return Number(used.numUpdatedRows) === 1;
    };
    const fresh = {
      password_hash: enrollment.passwordHash,
      secret_hash: enrollment.secretHash ?? null,
      token_id: enrollment.tokenId ?? null,
      labels: JSON.stringify(enrollment.labels ?? {}),
      arch: enrollment.arch ?? null,
      version: enrollment.version ?? null,
      enrolled_at: now,
      status: "active" as const,
      status_changed_at: now,
    };
    if (mode !== "rotate") {
      // Insert-or-nothing first: two replicas enrolling the same new device cannot both insert.
      const insert = await tx.insertInto("devices").values({
        id: enrollment.id,
        ...fresh,
        // A device that synced with a cloud whose data was lost starts from its own position.
        acked_seq: deviceAcked,
        last_seq: deviceAcked,
      }).onConflict((oc) => oc.column("id").doNothing()).executeTakeFirst();
      if (Number(insert.numInsertedOrUpdatedRows ?? 0) === 1) {
        if (!(await consumeToken())) throw new TokenUnusable();
        await writeLabelRows(tx, enrollment.id, enrollment.labels ?? {});
        return { ok: true, created: true, ackedSeq: deviceAcked };
      }
    }
    const existing = await selectDeviceForUpdate(tx, dialect, enrollment.id)
      .select(["acked_seq", "last_seq", "status"]).executeTakeFirst();
    if (!existing) return { ok: false, reason: "not_found" };
    if (existing.status === "deleted") {
      if (mode === "rotate") return { ok: false, reason: "not_found" };
      // A new device under the id of one deleted with its data kept: it numbers after the
      // kept seqs (the enroll answer's ackedSeq makes the agent renumber), so none of its
      // records is mistaken for a duplicate of the old ones.
      const ackedSeq = Math.max(Number(existing.acked_seq), deviceAcked);
      if (!(await consumeToken())) throw new TokenUnusable();
      await tx.updateTable("devices").set({
        ...fresh,
        online: 0,
        acked_seq: ackedSeq,
        last_seq: Math.max(Number(existing.last_seq), ackedSeq),
      }).where("id", "=", enrollment.id).execute();
      await writeLabelRows(tx, enrollment.id, enrollment.labels ?? {});
      return { ok: true, created: true, ackedSeq };
    }
    if (mode === "create") return { ok: false, reason: "exists" };
    if (existing.status !== "active") return { ok: false, reason: "inactive" };
    // Acks never go back; a device ahead of us (our data was lost) moves us forward.
    const ackedSeq = Math.max(Number(existing.acked_seq), deviceAcked);
    if (ackedSeq > Number(existing.acked_seq)) {
      await tx.deleteFrom("received_ranges").where("device_id", "=", enrollment.id)
        .where("to_seq", "<=", ackedSeq).execute();
    }
    await tx.updateTable("devices").set({
      password_hash: enrollment.passwordHash,
      ...(enrollment.secretHash !== undefined ? { secret_hash: enrollment.secretHash } : {}),
      enrolled_at: now,
      acked_seq: ackedSeq,
      last_seq: Math.max(Number(existing.last_seq), ackedSeq),
      ...(enrollment.labels ? { labels: JSON.stringify(enrollment.labels) } : {}),
      ...(enrollment.arch !== undefined ? { arch: enrollment.arch } : {}),
      ...(enrollment.version !== undefined ? { version: enrollment.version } : {}),
    }).where("id", "=", enrollment.id).execute();
    if (enrollment.labels) await writeLabelRows(tx, enrollment.id, enrollment.labels);
    return { ok: true, created: false, ackedSeq };
  }).catch((error): EnrollOutcome => {
    if (error instanceof TokenUnusable) return { ok: false, reason: "token_unusable" };
    throw error;
  });
}

/** Rolls the enrollment transaction back when its token cannot be used. */
class TokenUnusable extends Error {}

/** What the cloud knows of a device id's identity. */
export interface DeviceIdentity {
  status: DeviceStatus;
  secretHash: string | null;
  /** The enrollment token that created the device; null for the bootstrap token. */
  tokenId: string | null;
}

/** The identity of a device id; undefined when no row exists (never enrolled, or purged). */
export async function deviceIdentity(
  db: Db,
  deviceId: string,
): Promise<DeviceIdentity | undefined> {
  const row = await db.selectFrom("devices").select(["status", "secret_hash", "token_id"])
    .where("id", "=", deviceId).executeTakeFirst();
  return row
    ? { status: row.status, secretHash: row.secret_hash, tokenId: row.token_id }
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Enrollment tokens

/** An enrollment token as the API shows it (never the token itself). */
export interface EnrollmentTokenView {
  id: string;
  name: string;
  labels: Record<string, string>;
  expiresAt: string | null;
  maxUses: number | null;
  uses: number;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** `active`, or why it no longer enrolls: `revoked`, `expired`, `used_up`. */
  state: "active" | "revoked" | "expired" | "used_up";
}

/** A new token's properties. */
export interface NewEnrollmentToken {
  name: string;
  tokenHash: string;
  labels?: Record<string, string>;
  expiresAt?: number;
  maxUses?: number;
}

function iso(ms: number | string | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

/** The view of a token row at `now`. */
export function toTokenView(
  row: Selectable<EnrollmentTokensTable>,
  now: number,
): EnrollmentTokenView {
  const uses = Number(row.uses);
  const state = row.revoked_at !== null
    ? "revoked"
    : row.expires_at !== null && Number(row.expires_at) <= now
    ? "expired"
    : row.max_uses !== null && uses >= Number(row.max_uses)
    ? "used_up"
    : "active";
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels),
    expiresAt: iso(row.expires_at),
    maxUses: row.max_uses === null ? null : Number(row.max_uses),
    uses,
    createdAt: iso(row.created_at)!,
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
    state,
  };
}

/** Stores a new token (only its hash). */
export async function createEnrollmentToken(
  db: Db,
  token: NewEnrollmentToken,
  now: number,
): Promise<EnrollmentTokenView> {
  const row = {
    id: crypto.randomUUID(),
    name: token.name,
    token_hash: token.tokenHash,
    labels: JSON.stringify(token.labels ?? {}),
    expires_at: token.expiresAt ?? null,
    max_uses: token.maxUses ?? null,
    uses: 0,
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  await db.insertInto("enrollment_tokens").values(row).execute();
  return toTokenView(row, now);
}

/** Every token, newest first. */
export async function listEnrollmentTokens(db: Db, now: number): Promise<EnrollmentTokenView[]> {
  const rows = await db.selectFrom("enrollment_tokens").selectAll()
    .orderBy("created_at", "desc").orderBy("id").execute();
  return rows.map((row) => toTokenView(row, now));
}

/** One token by id. */
export async function getEnrollmentToken(
  db: Db,
  id: string,
  now: number,
): Promise<EnrollmentTokenView | undefined> {
  const row = await db.selectFrom("enrollment_tokens").selectAll().where("id", "=", id)
    .executeTakeFirst();
  return row ? toTokenView(row, now) : undefined;
}

/** The token whose hash is `tokenHash`, with its row (for the enrollment's checks). */
export async function findEnrollmentToken(
  db: Db,
  tokenHash: string,
  now: number,
): Promise<EnrollmentTokenView | undefined> {
  const row = await db.selectFrom("enrollment_tokens").selectAll()
    .where("token_hash", "=", tokenHash).executeTakeFirst();
  return row ? toTokenView(row, now) : undefined;
}

/** Revokes a token (kept for the record); undefined when there is none. */
export async function revokeEnrollmentToken(
  db: Db,
  id: string,
  now: number,
): Promise<EnrollmentTokenView | undefined> {
  await db.updateTable("enrollment_tokens").set({ revoked_at: now })
    .where("id", "=", id).where("revoked_at", "is", null).execute();
  return await getEnrollmentToken(db, id, now);
}

// ---------------------------------------------------------------------------------------------
// Enrollment requests

/** An enrollment request as the API shows it. */
export interface EnrollmentRequestView {
  id: string;
  deviceId: string;
  status: RequestStatus;
  /** The enrollment token presented; null for the bootstrap token. */
  tokenId: string | null;
  labels: Record<string, string>;
  arch: string | null;
  version: string | null;
  address: string | null;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string;
  decidedAt: string | null;
}

function toRequestView(row: Selectable<EnrollmentRequestsTable>): EnrollmentRequestView {
  return {
    id: row.id,
    deviceId: row.device_id,
    status: row.status,
    tokenId: row.token_id,
    labels: JSON.parse(row.labels),
    arch: row.arch,
    version: row.version,
    address: row.address,
    attempts: Number(row.attempts),
    createdAt: iso(row.created_at)!,
    lastAttemptAt: iso(row.last_attempt_at)!,
    decidedAt: iso(row.decided_at),
  };
}

/** A re-enrollment the cloud could not verify. */
export interface NewEnrollmentRequest {
  deviceId: string;
  secretHash: string;
  tokenId?: string;
  labels?: Record<string, string>;
  arch?: string;
  version?: string;
  address?: string;
}

/**
 * Records a request (or one more attempt of the same device id and secret) and returns it as
 * it stands: pending, or decided. Keeps at most {@link MAX_PENDING_REQUESTS_PER_DEVICE} pending
 * requests per device, dropping the oldest.
 */
export async function recordEnrollmentRequest(
  db: Db,
  dialect: StoreDialect,
  request: NewEnrollmentRequest,
  now: number,
): Promise<EnrollmentRequestView> {
  return await writeTransaction(db, dialect, async (tx) => {
    await tx.insertInto("enrollment_requests").values({
      id: crypto.randomUUID(),
      device_id: request.deviceId,
      secret_hash: request.secretHash,
      status: "pending",
      token_id: request.tokenId ?? null,
      labels: JSON.stringify(request.labels ?? {}),
      arch: request.arch ?? null,
      version: request.version ?? null,
      address: request.address ?? null,
      attempts: 1,
      created_at: now,
      last_attempt_at: now,
      decided_at: null,
    }).onConflict((oc) =>
      oc.columns(["device_id", "secret_hash"]).doUpdateSet((eb) => ({
        attempts: eb("enrollment_requests.attempts", "+", 1),
        last_attempt_at: now,
        address: request.address ?? null,
        // Approved once, but the device's secret has changed since (another approval): the
        // approval no longer holds, so the request waits again. A rejection stays.
        status: sql<RequestStatus>`CASE WHEN enrollment_requests.status = 'approved'
          THEN 'pending' ELSE enrollment_requests.status END`,
      }))
    ).execute();
    const pending = await tx.selectFrom("enrollment_requests").select("id")
      .where("device_id", "=", request.deviceId).where("status", "=", "pending")
      .orderBy("last_attempt_at", "desc").orderBy("id").execute();
    const excess = pending.slice(MAX_PENDING_REQUESTS_PER_DEVICE).map((row) => row.id);
    if (excess.length) {
      await tx.deleteFrom("enrollment_requests").where("id", "in", excess).execute();
    }
    const row = await tx.selectFrom("enrollment_requests").selectAll()
      .where("device_id", "=", request.deviceId).where("secret_hash", "=", request.secretHash)
      .executeTakeFirstOrThrow();
    return toRequestView(row);
  });
}

/** Filters of {@link listEnrollmentRequests}. */
export interface EnrollmentRequestsQuery {
  status?: RequestStatus;
  deviceId?: string;
  limit: number;
}

/** Requests, most recently attempted first. */
export async function listEnrollmentRequests(
  db: Db,
  query: EnrollmentRequestsQuery,
): Promise<EnrollmentRequestView[]> {
  let select = db.selectFrom("enrollment_requests").selectAll();
  if (query.status !== undefined) select = select.where("status", "=", query.status);
  if (query.deviceId !== undefined) select = select.where("device_id", "=", query.deviceId);
  const rows = await select.orderBy("last_attempt_at", "desc").orderBy("id").limit(query.limit)
    .execute();
  return rows.map(toRequestView);
}

/** One request by id. */
export async function getEnrollmentRequest(
  db: Db,
  id: string,
): Promise<EnrollmentRequestView | undefined> {
  const row = await db.selectFrom("enrollment_requests").selectAll().where("id", "=", id)
    .executeTakeFirst();
  return row ? toRequestView(row) : undefined;
}

/** What deciding a request did. */
export type DecisionOutcome =
  | { ok: true; request: EnrollmentRequestView }
  | { ok: false; reason: "not_found" | "already_decided" | "device_inactive" };

/**
 * Approves or rejects a pending request. Approving makes the requester's secret the device's
 * (its next enrollment attempt then gets credentials, which ends the old holder's session) and
 * rejects the device's other pending requests: only one requester can be the device.
 */
export async function decideEnrollmentRequest(
  db: Db,
  dialect: StoreDialect,
  id: string,
  decision: "approved" | "rejected",
  now: number,
): Promise<DecisionOutcome> {
  return await writeTransaction(db, dialect, async (tx) => {
    const request = await tx.selectFrom("enrollment_requests").selectAll().where("id", "=", id)
      .executeTakeFirst();
    if (!request) return { ok: false, reason: "not_found" };
    if (request.status !== "pending") {
      return request.status === decision
        ? { ok: true, request: toRequestView(request) }
        : { ok: false, reason: "already_decided" };
    }
    if (decision === "approved") {
      const device = await selectDeviceForUpdate(tx, dialect, request.device_id)
        .select("status").executeTakeFirst();
      if (device?.status !== "active") return { ok: false, reason: "device_inactive" };
      // The requester is the device: whoever holds the current broker password is not, so
      // that password goes (the caller also revokes it at the broker).
      await tx.updateTable("devices").set({ secret_hash: request.secret_hash, password_hash: null })
        .where("id", "=", request.device_id).execute();
      await tx.updateTable("enrollment_requests").set({ status: "rejected", decided_at: now })
        .where("device_id", "=", request.device_id).where("status", "=", "pending")
        .where("id", "!=", id).execute();
    }
    await tx.updateTable("enrollment_requests").set({ status: decision, decided_at: now })
      .where("id", "=", id).execute();
    return { ok: true, request: toRequestView({ ...request, status: decision, decided_at: now }) };
  });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/**
 * Sets a device's status. Leaving `active` removes what lets it in (the broker password hash,
 * which the embedded broker checks) and marks it offline; the device secret stays, so a
 * reinstated device re-enrolls on its own. `resetSecret` also clears the secret: the next
 * enrollment under the id then needs an operator's approval (for a device that was compromised).
 * @returns the previous status, or undefined when the device does not exist (or is deleted).
 */
export async function setDeviceStatus(
  db: Db,
  dialect: StoreDialect,
  deviceId: string,
  status: Exclude<DeviceStatus, "deleted">,
  options: { now: number; resetSecret?: boolean },
): Promise<DeviceStatus | undefined> {
  return await writeTransaction(db, dialect, async (tx) => {
    const row = await selectDeviceForUpdate(tx, dialect, deviceId).select("status")
      .executeTakeFirst();
    if (!row || row.status === "deleted") return undefined;
    await tx.updateTable("devices").set({
      status,
      ...(row.status !== status ? { status_changed_at: options.now } : {}),
      ...(status !== "active" ? { password_hash: null, online: 0 } : {}),
      ...(options.resetSecret ? { secret_hash: null } : {}),
    }).where("id", "=", deviceId).execute();
    return row.status;
  });
}

/** What deleting a device did. */
export interface DeleteOutcome {
  /** Rows removed (purge) or kept. */
  readings: number;
  events: number;
}

/**
 * Deletes a device. `purge` removes the row and, with it, every reading, event, command and
 * request of the device. Otherwise the row stays as a `deleted` tombstone: hidden from the
 * fleet, data kept and still queryable, credentials and secret gone, and its position raised to
 * the highest stored seq so a device enrolling under the id later numbers after the kept data.
 * @returns undefined when there is no such device.
 */
export async function deleteDevice(
  db: Db,
  dialect: StoreDialect,
  deviceId: string,
  options: { purge: boolean; now: number },
): Promise<DeleteOutcome | undefined> {
  return await writeTransaction(db, dialect, async (tx) => {
    const row = await selectDeviceForUpdate(tx, dialect, deviceId)
      .select(["status", "acked_seq", "last_seq"]).executeTakeFirst();
    if (!row || row.status === "deleted") return undefined;
    const [readings, events] = await Promise.all([
      tx.selectFrom("readings").select((eb) => eb.fn.countAll().as("n"))
        .where("device_id", "=", deviceId).executeTakeFirstOrThrow(),
      tx.selectFrom("events").select((eb) => eb.fn.countAll().as("n"))
        .where("device_id", "=", deviceId).executeTakeFirstOrThrow(),
    ]);
    const counts = { readings: Number(readings.n), events: Number(events.n) };
    if (options.purge) {
      // Children first: SQLite enforces the cascade only with foreign keys switched on.
      for (
        const table of [
          "readings",
          "events",
          "commands",
          "received_ranges",
          "device_labels",
          "desired_reports",
          "rollout_targets",
        ] as const
      ) {
        await tx.deleteFrom(table).where("device_id", "=", deviceId).execute();
      }
      await tx.deleteFrom("enrollment_requests").where("device_id", "=", deviceId).execute();
      await tx.deleteFrom("devices").where("id", "=", deviceId).execute();
      return counts;
    }
    const top = await tx.selectFrom("received_ranges")
      .select((eb) => eb.fn.max<number>("to_seq").as("top"))
      .where("device_id", "=", deviceId).executeTakeFirst();
    const position = Math.max(Number(row.acked_seq), Number(top?.top ?? 0));
    await tx.deleteFrom("received_ranges").where("device_id", "=", deviceId).execute();
    await tx.deleteFrom("enrollment_requests").where("device_id", "=", deviceId).execute();
    // A deleted device matches no selector (and gets the labels of whoever enrolls next).
    await tx.deleteFrom("device_labels").where("device_id", "=", deviceId).execute();
    await tx.updateTable("devices").set({
      status: "deleted",
      status_changed_at: options.now,
      password_hash: null,
      secret_hash: null,
      online: 0,
      acked_seq: position,
      last_seq: Math.max(position, Number(row.last_seq)),
    }).where("id", "=", deviceId).execute();
    return counts;
  });
}

/** What resetting a device's position did. */
export type PositionResetOutcome =
  | ({ ok: true } & PositionReset)
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "below_ack"; ackedSeq: number };

/** A reset position. */
export interface PositionReset {
  ackedSeq: number;
  lastSeq: number;
  /** Stored rows above the new position that were discarded (the device resends them). */
  discarded: { readings: number; events: number };
}

/**
 * Resets a device's sequence position: the cloud forgets what it stored above `ackedSeq`
 * (default: the current contiguous position) — ranges after gaps and their rows — and its
 * `last_seq` becomes `ackedSeq`, which clears a poisoned lag. Nothing is lost for a working
 * device: it keeps every record above its ack and resends it. Raising `ackedSeq` above the
 * current position accepts the device's own numbering from there (for a device whose ack is
 * ahead of a cloud that lost data); the records in between are never asked for again. It is
 * never lowered: the device has pruned what the cloud acked, so those rows are the only copy.
 */
export async function resetPosition(
  db: Db,
  dialect: StoreDialect,
  deviceId: string,
  ackedSeq: number | undefined,
): Promise<PositionResetOutcome> {
  return await writeTransaction(db, dialect, async (tx): Promise<PositionResetOutcome> => {
    const row = await selectDeviceForUpdate(tx, dialect, deviceId).select(["status", "acked_seq"])
      .executeTakeFirst();
    if (!row || row.status === "deleted") return { ok: false, reason: "not_found" };
    const current = Number(row.acked_seq);
    if (ackedSeq !== undefined && ackedSeq < current) {
      return { ok: false, reason: "below_ack", ackedSeq: current };
    }
    const position = ackedSeq ?? current;
    const readings = await tx.deleteFrom("readings").where("device_id", "=", deviceId)
      .where("seq", ">", position).executeTakeFirst();
    const events = await tx.deleteFrom("events").where("device_id", "=", deviceId)
      .where("seq", ">", position).executeTakeFirst();
    await tx.deleteFrom("received_ranges").where("device_id", "=", deviceId).execute();
    const dropped = {
      readings: Number(readings.numDeletedRows),
      events: Number(events.numDeletedRows),
    };
    await tx.updateTable("devices").set({
      acked_seq: position,
      last_seq: position,
      // The row counters follow what was dropped, in the same transaction.
      readings_count: sql<number>`readings_count - ${dropped.readings}`,
      events_count: sql<number>`events_count - ${dropped.events}`,
    }).where("id", "=", deviceId).execute();
    return {
      ok: true,
      ackedSeq: position,
      lastSeq: position,
      discarded: dropped,
    };
  });
}

/** Deletes Idempotency-Key records older than `before` (ms); returns how many. */
export async function pruneIdempotencyKeys(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom("idempotency_keys").where("created_at", "<", before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
