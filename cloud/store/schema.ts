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
  /** Readings stored for the device, kept by the ingest in each batch's transaction. */
  readings_count: Generated<BigIntColumn>;
  /** Events stored for the device, as `readings_count`. */
  events_count: Generated<BigIntColumn>;
  /** When the device came online (null while offline or never seen). */
  online_since: BigIntColumn | null;
  /** JSON `{key: ms}`: when a per-device desired PUT last set each key. */
  desired_pins: Generated<string>;
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

/** `device_labels`: one row per label of a device (`devices.labels` holds the same as JSON). */
export interface DeviceLabelsTable {
  device_id: string;
  key: string;
  value: string;
}

/** `desired_reports`: what a device answered to one desired version. */
export interface DesiredReportsTable {
  device_id: string;
  version: number;
  outcome: "applied" | "failed";
  reason: string | null;
  reported_at: BigIntColumn;
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

/**
 * Command states: queued until published to an online device, then answered. A job's command
 * is `scheduled` until the job's rate releases it, and `cancelled` when the job is cancelled
 * before it was delivered.
 */
export const COMMAND_STATUSES = [
  "scheduled",
  "queued",
  "delivered",
  "succeeded",
  "failed",
  "cancelled",
] as const;
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
  /** The job that created the command, or null for a single command. */
  job_id: string | null;
}

/** Rollout states. */
export const ROLLOUT_STATES = ["running", "paused", "succeeded", "aborted"] as const;
/** One of {@link ROLLOUT_STATES}. */
export type RolloutState = typeof ROLLOUT_STATES[number];

/** `rollouts`: desired-state changes for many devices, in waves. */
export interface RolloutsTable {
  id: string;
  name: string;
  /** `rollout`, or `rollback` (restores what the rollout `rollback_of` changed). */
  kind: "rollout" | "rollback";
  selector: string;
  /** JSON merge patch (RFC 7396) applied to each target's desired state. */
  patch: string;
  state: RolloutState;
  failure_threshold_percent: number;
  apply_timeout_seconds: number;
  targeted: number;
  rollback_of: string | null;
  rolled_back_by: string | null;
  /** Why it was aborted. */
  reason: string | null;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  finished_at: BigIntColumn | null;
}

/** Wave states: waiting → running (sent) → baking (online targets answered) → completed. */
export const WAVE_STATES = ["waiting", "running", "baking", "completed", "skipped"] as const;
/** One of {@link WAVE_STATES}. */
export type WaveState = typeof WAVE_STATES[number];

/** `rollout_waves`. */
export interface RolloutWavesTable {
  rollout_id: string;
  wave: number;
  /** Cumulative share of the targets reached when this wave has started. */
  percent: number;
  bake_seconds: number;
  /** Targets in this wave. */
  size: number;
  state: WaveState;
  started_at: BigIntColumn | null;
  answered_at: BigIntColumn | null;
  completed_at: BigIntColumn | null;
}

/**
 * Target states: `waiting` for its wave, `pending` (sent, no answer yet), `applied`, `failed`,
 * or `cancelled` (the rollout was aborted before the device applied it).
 */
export const TARGET_STATES = ["waiting", "pending", "applied", "failed", "cancelled"] as const;
/** One of {@link TARGET_STATES}. */
export type TargetState = typeof TARGET_STATES[number];

/** `rollout_targets`: one device of a rollout, fixed when the rollout is created. */
export interface RolloutTargetsTable {
  rollout_id: string;
  device_id: string;
  wave: number;
  state: TargetState;
  /** The desired version that carries the change (and any later one that keeps it). */
  version: number | null;
  /** JSON `[{key, before?, after?}]`: the top-level keys changed (absent side omitted). */
  changes: string | null;
  /** Rollback targets: JSON changes of the original target, to undo. */
  restore: string | null;
  reason: string | null;
  sent_at: BigIntColumn | null;
  nudged_at: BigIntColumn | null;
  updated_at: BigIntColumn;
}

/** Job states. */
export const JOB_STATES = ["running", "succeeded", "failed", "cancelled"] as const;
/** One of {@link JOB_STATES}. */
export type JobState = typeof JOB_STATES[number];

/** `jobs`: one command for many devices; each device's command row carries `job_id`. */
export interface JobsTable {
  id: string;
  name: string;
  selector: string;
  command_name: string;
  args: string | null;
  rate_per_minute: number | null;
  state: JobState;
  targeted: number;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  finished_at: BigIntColumn | null;
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

/**
 * `broker_credentials`: credentials a broker backend mints instead of storing (NATS user JWTs).
 * Times are unix **seconds**, the resolution of a JWT's `iat`.
 */
export interface BrokerCredentialsTable {
  device_id: string;
  /** `iat` of the newest credential issued to the device. */
  issued_at: BigIntColumn;
  /** Credentials issued at or before this are revoked; null: none is. */
  revoked_through: BigIntColumn | null;
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
  device_labels: DeviceLabelsTable;
  desired_reports: DesiredReportsTable;
  rollouts: RolloutsTable;
  rollout_waves: RolloutWavesTable;
  rollout_targets: RolloutTargetsTable;
  jobs: JobsTable;
  broker_credentials: BrokerCredentialsTable;
}
