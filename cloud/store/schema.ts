/**
 * Table types of the cloud database, for Kysely. Times are ms since the epoch; JSON columns
 * are text so the schema stays portable between libSQL and PostgreSQL. `pg` would return
 * `bigint` columns as strings; our pool parses them as numbers (`postgres.ts`), and readers
 * still convert with `Number()` so a raw driver result is handled too.
 * @module
 */
import type { Generated } from "kysely";

/** A `bigint` column as a driver may return it (a string from `pg` without our parser). */
export type BigIntColumn = number | string;

/** `devices`: one row per enrolled device, with its sync position and configuration. */
export interface DevicesTable {
  id: string;
  /** `sha256$<salt hex>$<hash hex>` of the broker password, or null (external broker). */
  password_hash: string | null;
  /** JSON object of string labels. */
  labels: Generated<string>;
  arch: string | null;
  version: string | null;
  enrolled_at: BigIntColumn;
  /** 1 online, 0 offline (an integer so both dialects agree). */
  online: Generated<number>;
  last_seen: BigIntColumn | null;
  /** Every seq up to here is stored: the contiguous high-water mark sent in `down/ack`. */
  acked_seq: Generated<BigIntColumn>;
  /** The highest seq the device has told us about (batches and status). */
  last_seq: Generated<BigIntColumn>;
  /** JSON object. */
  desired: Generated<string>;
  desired_version: Generated<number>;
  applied_version: Generated<number>;
  /** JSON object: what the device last reported. */
  reported: Generated<string>;
  /** The seq of the record `reported` came from, so an older record never overwrites it. */
  reported_seq: Generated<BigIntColumn>;
  /** One of {@link DEVICE_STATUSES}. */
  status: Generated<DeviceStatus>;
  status_changed_at: BigIntColumn | null;
  /** SHA-256 (hex) of the device id and its device secret; null for devices enrolled before. */
  secret_hash: string | null;
  /** The enrollment token that created the device; null for the bootstrap token. */
  token_id: string | null;
}

/**
 * A device's lifecycle: `active` (may enroll and connect); `revoked` (credentials removed,
 * refused at connect and enrollment until reinstated); `decommissioned` (retired: the same,
 * for good, its data kept); `deleted` (gone from the fleet, data kept: a tombstone row that keeps
 * the seqs of the kept data, so a device enrolling under the id later numbers after them).
 */
export const DEVICE_STATUSES = ["active", "revoked", "decommissioned", "deleted"] as const;
/** One of {@link DEVICE_STATUSES}. */
export type DeviceStatus = typeof DEVICE_STATUSES[number];

/** `enrollment_tokens`: scoped, revocable tokens; only a hash of the token is kept. */
export interface EnrollmentTokensTable {
  id: string;
  name: string;
  /** SHA-256 (hex) of the token. */
  token_hash: string;
  /** JSON object of labels every device enrolled with it gets. */
  labels: Generated<string>;
  expires_at: BigIntColumn | null;
  max_uses: number | null;
  /** Devices created with it so far. */
  uses: Generated<number>;
  created_at: BigIntColumn;
  last_used_at: BigIntColumn | null;
  revoked_at: BigIntColumn | null;
}

/** Request states: pending until an operator decides. */
export const REQUEST_STATUSES = ["pending", "approved", "rejected"] as const;
/** One of {@link REQUEST_STATUSES}. */
export type RequestStatus = typeof REQUEST_STATUSES[number];

/** `enrollment_requests`: re-enrollments of an existing id that wait for an operator. */
export interface EnrollmentRequestsTable {
  id: string;
  device_id: string;
  /** The requester's device secret, hashed as `devices.secret_hash`. */
  secret_hash: string;
  status: RequestStatus;
  token_id: string | null;
  labels: Generated<string>;
  arch: string | null;
  version: string | null;
  /** The client address the request came from, as the HTTP layer saw it. */
  address: string | null;
  attempts: Generated<number>;
  created_at: BigIntColumn;
  last_attempt_at: BigIntColumn;
  decided_at: BigIntColumn | null;
}

/** `idempotency_keys`: the first answer to a POST with an `Idempotency-Key`. */
export interface IdempotencyKeysTable {
  /** `METHOD path`. */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the request body. */
  fingerprint: string;
  /** Null while the first request is running. */
  status: number | null;
  response: string | null;
  created_at: BigIntColumn;
}

/** `readings`; `device_ts` is device time. */
export interface ReadingsTable {
  device_id: string;
  seq: BigIntColumn;
  sensor: string;
  value: number;
  unit: string;
  device_ts: BigIntColumn;
  received_at: BigIntColumn;
}

/** `events`; `data` is JSON or null. */
export interface EventsTable {
  device_id: string;
  seq: BigIntColumn;
  id: string;
  kind: string;
  severity: string;
  message: string;
  data: string | null;
  device_ts: BigIntColumn;
  received_at: BigIntColumn;
}

/** Command states: queued until published to an online device, then answered. */
export const COMMAND_STATUSES = ["queued", "delivered", "succeeded", "failed"] as const;
/** One of {@link COMMAND_STATUSES}. */
export type CommandStatus = typeof COMMAND_STATUSES[number];

/** `commands`; `args` and `result` are JSON or null. */
export interface CommandsTable {
  id: string;
  device_id: string;
  name: string;
  args: string | null;
  status: CommandStatus;
  result: string | null;
  error: string | null;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

/**
 * `received_ranges`: seq ranges stored above the contiguous prefix (after a gap). Ranges at or
 * below `devices.acked_seq` are deleted as the prefix advances over them.
 */
export interface ReceivedRangesTable {
  device_id: string;
  from_seq: BigIntColumn;
  to_seq: BigIntColumn;
}

/** The cloud database. */
export interface CloudDatabase {
  devices: DevicesTable;
  readings: ReadingsTable;
  events: EventsTable;
  commands: CommandsTable;
  received_ranges: ReceivedRangesTable;
  enrollment_tokens: EnrollmentTokensTable;
  enrollment_requests: EnrollmentRequestsTable;
  idempotency_keys: IdempotencyKeysTable;
}
