/**
 * Table types of the agent's SQLite database, for Kysely.
 * @module
 */

/** `outbox`: records waiting for the cloud's ack. */
export interface OutboxTable {
  seq: number;
  kind: string;
  /** JSON of an `OutboxPayload`. */
  payload: string;
  created_at: number;
}

/** `readings`; `ts` is device time in ms since the epoch. */
export interface ReadingsTable {
  seq: number;
  sensor: string;
  value: number;
  unit: string;
  ts: number;
  received_at: number;
}

/** `events`; `data` is JSON or null. */
export interface EventsTable {
  seq: number;
  id: string;
  kind: string;
  severity: string;
  message: string;
  data: string | null;
  created_at: number;
  /** When it happened (device time, ms); null for events stored before it was recorded. */
  ts: number | null;
}

/** `idempotency_keys`: the first answer to a POST with an `Idempotency-Key`. */
export interface IdempotencyKeysTable {
  /** `METHOD path`. */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the request body as parsed. */
  fingerprint: string;
  /** JSON of the store's result. */
  response: string;
  created_at: number;
}

/** `sync_state`: small key/value facts such as the acked seq. */
export interface SyncStateTable {
  key: string;
  value: string;
}

/** `commands_seen`: command ids already run. */
export interface CommandsSeenTable {
  id: string;
  name: string;
  status: string;
  received_at: number;
}

/** The agent's database. */
export interface AgentDatabase {
  outbox: OutboxTable;
  readings: ReadingsTable;
  events: EventsTable;
  sync_state: SyncStateTable;
  commands_seen: CommandsSeenTable;
  idempotency_keys: IdempotencyKeysTable;
}
