/**
 * Row conversions shared by the store's modules.
 * @module
 */
import type { CommandsTable, CommandStatus } from "./schema.ts";

/** ISO-8601 of a stored time (ms since the epoch; `pg` may hand bigints over as strings). */
export function iso(ms: number | string): string {
  return new Date(Number(ms)).toISOString();
}

/** A command as the API returns it. */
export interface CommandView {
  id: string;
  deviceId: string;
  name: string;
  args?: Record<string, unknown>;
  status: CommandStatus;
  result?: unknown;
  error?: string;
  createdAt: string;
  updatedAt: string;
  /** The job that created it. */
  jobId?: string;
}

/** A command row as the API shows it. */
export function toCommand(row: CommandsTable): CommandView {
  return {
    id: row.id,
    deviceId: row.device_id,
    name: row.name,
    ...(row.args === null ? {} : { args: JSON.parse(row.args) }),
    status: row.status,
    ...(row.result === null ? {} : { result: JSON.parse(row.result) }),
    ...(row.error === null ? {} : { error: row.error }),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    ...(row.job_id ? { jobId: row.job_id } : {}),
  };
}
