/**
 * The agent's connection state with the cloud, as the sync layer knows it. The HTTP status route
 * and the console show it; they import it from here rather than define their own.
 * @module
 */

/** Sync states as DESIGN.md names them. */
export const SYNC_STATES = ["unenrolled", "connecting", "online", "offline"] as const;

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
