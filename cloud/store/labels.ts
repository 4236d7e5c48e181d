/**
 * A device's labels as rows of `device_labels`, the form selectors read (`devices.labels` keeps
 * the same as JSON, for display). Every write of a device's labels goes through here, in the
 * transaction that writes the JSON.
 * @module
 */
import type { Kysely, Transaction } from "kysely";
import type { CloudDatabase } from "./schema.ts";

/** Replaces a device's label rows in `tx`. */
export async function writeLabelRows(
  tx: Transaction<CloudDatabase> | Kysely<CloudDatabase>,
  deviceId: string,
  labels: Record<string, string>,
): Promise<void> {
  await tx.deleteFrom("device_labels").where("device_id", "=", deviceId).execute();
  const rows = Object.entries(labels).map(([key, value]) => ({ device_id: deviceId, key, value }));
  if (rows.length) await tx.insertInto("device_labels").values(rows).execute();
}
