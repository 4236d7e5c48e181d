/**
 * The agent's connection state with the cloud, as the sync layer knows it. The HTTP status route
 * and the console show it; they import it from here rather than define their own.
 * @module
 */

/**
 * Sync states: DESIGN.md's four, plus two of enrollment (issue 15): `pending_approval` (the
 * cloud holds this device's re-enrollment for an operator) and `refused` (the cloud refuses to
 * enroll it: revoked, decommissioned, rejected, a bad token; `lastError` says which). In both
 * the agent retries with backoff, and every local feature keeps working.
 */
export const SYNC_STATES = [
  "unenrolled",
  "connecting",
  "online",
  "offline",
  "pending_approval",
  "refused",
] as const;

/** One of {@link SYNC_STATES}. */
export type SyncState = typeof SYNC_STATES[number];

/**
 * What keeps the agent from syncing, as a code the console turns into operator words (the raw
 * text stays in `lastError`):
 * - `cloud_unreachable`: the cloud's enrollment endpoint does not answer (network, DNS, down);
 * - `cloud_error`: it answers with a server error or an unexpected body;
 * - `enrollment_refused`: it refuses this device's enrollment (token, revoked, decommissioned);
 * - `enrollment_pending`: it holds the enrollment for an operator's approval;
 * - `broker_unreachable`: the MQTT broker does not answer or dropped the connection;
 * - `credentials_refused`: the broker refuses this device's credentials (it enrolls again);
 * - `broker_refused`: connected, but the broker refused the downlink subscription;
 * - `tls`: the broker's certificate is not acceptable;
 * - `records_refused`: connected, but the cloud refused a batch or dropped records (an ack's
 *   notes; `lastError` names them);
 * - `configuration`: something on this device stops it (unreadable CA or device secret,
 *   plaintext password).
 */
export const SYNC_PROBLEMS = [
  "cloud_unreachable",
  "cloud_error",
  "enrollment_refused",
  "enrollment_pending",
  "broker_unreachable",
  "credentials_refused",
  "broker_refused",
  "tls",
  "records_refused",
  "configuration",
] as const;

/** One of {@link SYNC_PROBLEMS}. */
export type SyncProblem = typeof SYNC_PROBLEMS[number];

/** The connection side of the sync status, provided by the sync loop. */
export interface SyncConnection {
  state: SyncState;
  /** The last failure's own words (client or server message), for details and logs. */
  lastError: string | null;
  /** What the last failure means; null while online or before any failure. */
  problem: SyncProblem | null;
  /** ISO time the current state began: online since, or failing since (first failure). */
  since: string | null;
  /** ISO time of the next attempt while backing off; null otherwise. */
  nextAttemptAt: string | null;
  /**
   * The broker URL in use or being tried (without credentials); null before the agent has
   * one (unenrolled, enrolling).
   */
  brokerUrl: string | null;
}

/** A connection view for an agent with no cloud configured. */
export function unenrolledConnection(): SyncConnection {
  return {
    state: "unenrolled",
    lastError: null,
    problem: null,
    since: null,
    nextAttemptAt: null,
    brokerUrl: null,
  };
}
