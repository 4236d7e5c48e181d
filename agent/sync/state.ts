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

/** The connection side of the sync status, provided by the sync loop. */
export interface SyncConnection {
  state: SyncState;
  lastError: string | null;
}

/** A connection view for an agent with no cloud configured. */
export function unenrolledConnection(): SyncConnection {
  return { state: "unenrolled", lastError: null };
}
